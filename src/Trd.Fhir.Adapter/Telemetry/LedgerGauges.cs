using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Sync.Ledger;

namespace Trd.Fhir.Adapter.Telemetry;

/// <summary>Refreshes the ledger gauges (queue depth, dead letters held) from the ledger every <see cref="Interval"/>,
/// on the host's clock; a ledger that does not answer leaves the last values and is logged once per failure.</summary>
public sealed class LedgerGauges(ISyncLedger ledger, TimeProvider time, ILogger<LedgerGauges> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var queued = (await ledger.ListAsync(WorkState.Queued, cancellationToken)).Count;
        var failed = (await ledger.ListAsync(WorkState.Failed, cancellationToken)).Count;
        var dead = (await ledger.ListAsync(WorkState.Dead, cancellationToken)).Count;
        TrdTelemetry.RecordLedger(queued, failed, dead);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Ledger gauges not refreshed: {Error}", e.GetType().Name);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
