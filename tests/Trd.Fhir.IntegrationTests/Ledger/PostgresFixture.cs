using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace Trd.Fhir.IntegrationTests.Ledger;

/// <summary>
/// A throwaway PostgreSQL cluster from Debian's server binaries (<c>/usr/lib/postgresql/N/bin</c>, installed by test.sh):
/// initdb into a temp directory, the server on 127.0.0.1 and a free port (its unix socket in the same directory, trust
/// authentication), stopped and deleted on dispose. PostgreSQL refuses to run as root, so under root the binaries run as
/// the <c>postgres</c> user (setpriv) and the directory is handed to it. Each test asks for its own database.
/// A test host killed before dispose leaves its cluster behind: the next fixture stops and deletes clusters whose owning
/// process is gone (the directory name carries that process id).
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public const string CollectionName = "postgres";

    private const string DirectoryPrefix = "trd-pg-";
    private const string ServerUser = "postgres";
    private const string ReadyLine = "database system is ready to accept connections";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    private readonly StringBuilder _serverLog = new();
    private readonly Lock _logLock = new();
    private string? _binDirectory;
    private string? _rootDirectory;
    private Process? _server;
    private int _port;
    private int _databases;

    /// <summary>The server's TCP port on 127.0.0.1.</summary>
    public int Port => _port != 0 ? _port : throw new InvalidOperationException("PostgreSQL has not been started.");

    /// <summary>The PostgreSQL version directory in use, e.g. <c>/usr/lib/postgresql/15/bin</c>.</summary>
    public string BinDirectory => _binDirectory ?? throw new InvalidOperationException("PostgreSQL has not been started.");

    /// <summary>Everything the server wrote so far (for failure messages).</summary>
    public string ServerLog
    {
        get
        {
            lock (_logLock)
            {
                return _serverLog.ToString();
            }
        }
    }

    private static bool RunningAsRoot => Environment.UserName == "root";

    private string DataDirectory => Path.Combine(_rootDirectory!, "data");

    /// <summary>Creates an empty database and returns a key=value connection string for it (user postgres, no password).</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken = default)
    {
        var name = "ledger_" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture);
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres", pooling: false)))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return ConnectionString(name, pooling: true);
    }

    /// <summary>The same database as a URL (<c>postgres://postgres@127.0.0.1:PORT/DB</c>), as the CLI's <c>--ledger</c> takes it.</summary>
    public string UrlFor(string connectionString) =>
        $"postgres://{ServerUser}@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/{new NpgsqlConnectionStringBuilder(connectionString).Database}";

    public async Task InitializeAsync()
    {
        _binDirectory = FindBinDirectory();
        await RemoveAbandonedClustersAsync();
        _rootDirectory = Directory.CreateTempSubdirectory(
            DirectoryPrefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-").FullName;
        if (RunningAsRoot)
        {
            await RunAsync("chown", [ServerUser + ":", _rootDirectory], asServerUser: false);
        }

        await RunAsync(Path.Combine(_binDirectory, "initdb"),
            ["-D", DataDirectory, "-U", ServerUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            asServerUser: true);

        // A free port can be taken between probing and binding: try a few.
        for (var attempt = 1; ; attempt++)
        {
            _port = FreePort();
            if (await TryStartAsync())
            {
                return;
            }

            if (attempt == 3 || !ServerLog.Contains("could not bind", StringComparison.Ordinal))
            {
                var log = ServerLog;
                await DisposeAsync();
                throw new InvalidOperationException(
                    $"PostgreSQL ({_binDirectory}/postgres, data in {DataDirectory}) did not start on 127.0.0.1:{_port}. Server log:\n{log}");
            }
        }
    }

    public async Task DisposeAsync()
    {
        var server = _server;
        _server = null;
        if (server is not null)
        {
            try
            {
                if (!server.HasExited)
                {
                    await RunAsync(Path.Combine(BinDirectory, "pg_ctl"), ["stop", "-D", DataDirectory, "-m", "fast", "-w", "-t", "10"],
                        asServerUser: true, throwOnFailure: false);
                    using var timeout = new CancellationTokenSource(StopTimeout);
                    try
                    {
                        await server.WaitForExitAsync(timeout.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        server.Kill(entireProcessTree: true);
                        await server.WaitForExitAsync();
                    }
                }
            }
            finally
            {
                server.Dispose();
            }
        }

        NpgsqlConnection.ClearAllPools();
        if (_rootDirectory is not null && Directory.Exists(_rootDirectory))
        {
            Directory.Delete(_rootDirectory, recursive: true);
        }

        _rootDirectory = null;
    }

    private string ConnectionString(string database, bool pooling) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = ServerUser,
        Database = database,
        Pooling = pooling,
        MaxPoolSize = 50,
    }.ConnectionString;

    private async Task<bool> TryStartAsync()
    {
        lock (_logLock)
        {
            _serverLog.Clear();
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var startInfo = StartInfo(Path.Combine(BinDirectory, "postgres"),
        [
            "-D", DataDirectory, "-p", _port.ToString(CultureInfo.InvariantCulture), "-k", _rootDirectory!,
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
            // throwaway data: no durability needed
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ], asServerUser: true);
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            AppendLog(e.Data);
            if (e.Data.Contains(ReadyLine, StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.OutputDataReceived += onLine;
        process.ErrorDataReceived += onLine;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("PostgreSQL exited during start-up."));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _server = process;
        try
        {
            await ready.Task.WaitAsync(StartTimeout);
            return true;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
            process.Dispose();
            _server = null;
            return false;
        }
    }

    private static string FindBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        var candidates = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(dir => (Dir: dir, Version: int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(c => File.Exists(Path.Combine(c.Dir, "bin", "postgres")) && File.Exists(Path.Combine(c.Dir, "bin", "initdb")))
                .OrderByDescending(c => c.Version)
                .ToList()
            : [];
        if (candidates.Count == 0)
        {
            throw new InvalidOperationException(
                "The PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin/postgres and initdb). The shared-ledger tests " +
                "start a throwaway cluster from them: run ./test.sh (it installs Debian's `postgresql` package when missing) or " +
                "`sudo apt-get install postgresql`, then run the tests again.");
        }

        return Path.Combine(candidates[0].Dir, "bin");
    }

    /// <summary>Clusters left by test hosts that were killed before dispose: stopped and deleted (only when their owner is gone).</summary>
    private async Task RemoveAbandonedClustersAsync()
    {
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), DirectoryPrefix + "*"))
        {
            var parts = Path.GetFileName(dir)[DirectoryPrefix.Length..].Split('-');
            if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var owner)
                || owner == Environment.ProcessId || Directory.Exists("/proc/" + owner.ToString(CultureInfo.InvariantCulture)))
            {
                continue;
            }

            var data = Path.Combine(dir, "data");
            if (File.Exists(Path.Combine(data, "postmaster.pid")))
            {
                await RunAsync(Path.Combine(BinDirectory, "pg_ctl"), ["stop", "-D", data, "-m", "immediate", "-w", "-t", "10"],
                    asServerUser: true, throwOnFailure: false);
            }

            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not ours to delete (another user's run): leave it.
            }
        }
    }

    private ProcessStartInfo StartInfo(string program, IReadOnlyList<string> arguments, bool asServerUser)
    {
        var startInfo = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // the server user must be able to read its working directory
            WorkingDirectory = _rootDirectory ?? Path.GetTempPath(),
        };
        if (asServerUser && RunningAsRoot)
        {
            startInfo.FileName = "setpriv";
            foreach (var argument in (string[])["--reuid=" + ServerUser, "--regid=" + ServerUser, "--init-groups", "--", program])
            {
                startInfo.ArgumentList.Add(argument);
            }
        }
        else
        {
            startInfo.FileName = program;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        return startInfo;
    }

    private async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asServerUser, bool throwOnFailure = true)
    {
        using var process = Process.Start(StartInfo(program, arguments, asServerUser))
            ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && throwOnFailure)
        {
            throw new InvalidOperationException(
                $"`{program} {string.Join(' ', arguments)}` exited {process.ExitCode}:\n{await stdout}{await stderr}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void AppendLog(string line)
    {
        lock (_logLock)
        {
            if (_serverLog.Length < 64 * 1024)
            {
                _serverLog.AppendLine(line);
            }
        }
    }
}

[CollectionDefinition(PostgresFixture.CollectionName)]
public sealed class PostgresCollectionDefinition : ICollectionFixture<PostgresFixture>;
