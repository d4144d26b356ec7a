// Trd.Fhir benchmarks (docs/benchmarks.md):
//   dotnet run -c Release --project tests/Trd.Fhir.Benchmarks -- --filter '*'      BenchmarkDotNet warm throughput
//   Trd.Fhir.Benchmarks textbook-cold FILE --profiles DIR                       cold-start baseline (tests/perf/cold-start.sh)
//   Trd.Fhir.Benchmarks scale [--baseline-max-entries N] BUNDLE…               Bundle size scaling (tests/perf/linear-scale.sh)
//   Trd.Fhir.Benchmarks throughput [--seconds S] [--rounds R]                  warm resources/s vs raw Firely (tests/perf/throughput.sh)
using BenchmarkDotNet.Running;
using Trd.Fhir.Benchmarks;

if (args.Length > 0 && args[0] == "textbook-cold") return Textbook.Cold(args[1..]);
if (args.Length > 0 && args[0] == "scale") return Scale.Run(args[1..]);
if (args.Length > 0 && args[0] == "throughput") return Throughput.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(WarmThroughput).Assembly).Run(args);
return 0;
