using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Sync.Ledger;

namespace Trd.Fhir.IntegrationTests.Ledger;

/// <summary>What <c>--ledger postgres://…</c> and key=value strings turn into (no server needed).</summary>
public sealed class PostgresConnectionStringTests
{
    [Fact]
    public void ParseConnectionString_FullUrl_MapsEveryPart()
    {
        var builder = PostgresSyncLedger.ParseConnectionString("postgres://trd:p%40ss%3Aword@db.example.org:6543/ledger?sslmode=require&application_name=trd-worker");

        Assert.Equal(
            ("db.example.org", 6543, "trd", "p@ss:word", "ledger", "Require", "trd-worker"),
            (builder.Host, builder.Port, builder.Username, builder.Password, builder.Database, builder.SslMode.ToString(), builder.ApplicationName));
    }

    [Fact]
    public void ParseConnectionString_PostgresqlSchemeWithoutPort_UsesDefaultPort()
    {
        var builder = PostgresSyncLedger.ParseConnectionString("postgresql://worker@10.0.0.7/trd");

        Assert.Equal(("10.0.0.7", 5432, "worker", (string?)null, "trd"), (builder.Host, builder.Port, builder.Username, builder.Password, builder.Database));
    }

    [Fact]
    public void ParseConnectionString_KeyValue_TakenAsIs()
    {
        var builder = PostgresSyncLedger.ParseConnectionString("Host=/run/postgresql;Database=trd;Username=svc;Password=pw");

        Assert.Equal(("/run/postgresql", "trd", "svc", "pw"), (builder.Host, builder.Database, builder.Username, builder.Password));
    }

    [Theory]
    [InlineData("postgres://user:pw@/db", "Not a valid postgres:// URL")]
    [InlineData("postgres://user:pw@host/db?no_such_option=1", "query parameter Npgsql does not accept: 'no_such_option'")]
    [InlineData("Hots=localhost;Database=trd", "Not a PostgreSQL connection string")]
    public void ParseConnectionString_Invalid_ArgumentExceptionNamingThePart(string text, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => PostgresSyncLedger.ParseConnectionString(text));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pw", ex.Message.Replace("password", "", StringComparison.OrdinalIgnoreCase), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgres://trd:hunter2@db.example.org:6543/ledger", "postgres://trd@db.example.org:6543/ledger")]
    [InlineData("Host=db.example.org;Port=5433;Database=ledger;Username=trd;Password=hunter2", "postgres://trd@db.example.org:5433/ledger")]
    public async Task Location_WithPassword_ShowsEverythingButThePassword(string connectionString, string expected)
    {
        await using var ledger = new PostgresSyncLedger(connectionString, new FakeTimeProvider()); // connects lazily: no server needed

        Assert.Equal(expected, ledger.Location);
    }

    [Theory]
    [InlineData("postgres://trd:hunter2@db.example.org:6543/ledger", "postgres://trd@db.example.org:6543/ledger")]
    [InlineData("postgresql://trd@db.example.org/ledger", "postgres://trd@db.example.org:5432/ledger")]
    [InlineData("Host=db.example.org;Database=ledger;Username=trd;Password=hunter2", "postgres://trd@db.example.org:5432/ledger")]
    public async Task Open_PostgresSpec_PostgresLedger(string spec, string expectedLocation)
    {
        await using var ledger = SyncLedgers.Open(spec, TimeProvider.System);

        Assert.IsType<PostgresSyncLedger>(ledger);
        Assert.Equal(expectedLocation, ledger.Location);
    }
}
