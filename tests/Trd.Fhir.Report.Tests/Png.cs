using System.Buffers.Binary;
using System.IO.Compression;

namespace Trd.Fhir.Report.Tests;

/// <summary>
/// Just enough of PNG (8-bit RGB or RGBA, non-interlaced: what Chromium writes) to tell a real screenshot from a blank one.
/// </summary>
internal sealed record Png(int Width, int Height, byte[] Rgb)
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    public static Png Decode(byte[] file)
    {
        if (file.Length < 8 || !file.AsSpan(0, 8).SequenceEqual(Signature))
            throw new InvalidDataException("not a PNG");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (var at = 8; at + 8 <= file.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(at));
            var type = System.Text.Encoding.ASCII.GetString(file, at + 4, 4);
            var data = file.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                if (data[8] != 8 || data[12] != 0)
                    throw new InvalidDataException($"PNG bit depth {data[8]} / interlace {data[12]} not supported");
                channels = data[9] switch { 2 => 3, 6 => 4, var c => throw new InvalidDataException($"PNG colour type {c} not supported") };
            }
            else if (type == "IDAT")
                idat.Write(data);
            else if (type == "IEND")
                break;
            at += 12 + length;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var stride = width * channels;
        var previous = new byte[stride];
        var current = new byte[stride];
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            var filter = bytes[y * (stride + 1)];
            Array.Copy(bytes, y * (stride + 1) + 1, current, 0, stride);
            for (var i = 0; i < stride; i++)
            {
                int a = i >= channels ? current[i - channels] : 0, b = previous[i], c = i >= channels ? previous[i - channels] : 0;
                current[i] = (byte)(current[i] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                });
            }
            for (var x = 0; x < width; x++)
                Array.Copy(current, x * channels, rgb, (y * width + x) * 3, 3);
            (previous, current) = (current, previous);
        }
        return new Png(width, height, rgb);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>Share of pixels that are not (near) white.</summary>
    public double InkedFraction()
    {
        var inked = 0;
        for (var i = 0; i < Rgb.Length; i += 3)
        {
            if (Rgb[i] < 240 || Rgb[i + 1] < 240 || Rgb[i + 2] < 240)
                inked++;
        }
        return (double)inked / (Width * Height);
    }

    /// <summary>Distinct colours, each channel quantised to 32 levels.</summary>
    public int Colours()
    {
        var set = new HashSet<int>();
        for (var i = 0; i < Rgb.Length; i += 3)
            set.Add((Rgb[i] >> 3) << 10 | (Rgb[i + 1] >> 3) << 5 | Rgb[i + 2] >> 3);
        return set.Count;
    }

    /// <summary>Pixels close to the given colour (each channel within <paramref name="tolerance"/>).</summary>
    public int CountNear(byte r, byte g, byte b, int tolerance = 24)
    {
        var n = 0;
        for (var i = 0; i < Rgb.Length; i += 3)
        {
            if (Math.Abs(Rgb[i] - r) <= tolerance && Math.Abs(Rgb[i + 1] - g) <= tolerance && Math.Abs(Rgb[i + 2] - b) <= tolerance)
                n++;
        }
        return n;
    }
}
