using Microsoft.Extensions.Hosting;
using Trd.Fhir.Adapter.Sync;

namespace Trd.Fhir.Adapter.Api;

/// <summary>Runs the ledger's background worker (<see cref="LedgerSync.RunAsync"/>) for as long as the host runs: queued
/// pushes (<c>Prefer: respond-async</c>), retries of failed ones, and claims abandoned by a crashed process.</summary>
public sealed class LedgerWorker(LedgerSync sync) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => sync.RunAsync(stoppingToken);
}
