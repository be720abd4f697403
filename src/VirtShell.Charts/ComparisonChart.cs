using ScottPlot;
using SkiaSharp;
using VirtShell.Engine.Text;
using VirtShell.Models.Comparison;

namespace VirtShell.Charts;

/// <summary>
/// Compare-VirtModel's chart: one small panel per measure, a bar per model. The models differ by orders of magnitude
/// in start time, CPU speed, round-trip cost and throughput, so those panels have a log scale (ScottPlot has no log
/// axis: the bars are log10 of the values, with the ticks labelled in the values themselves).
/// </summary>
public static class ComparisonChart
{
    private sealed record Panel(string Title, Func<ModelComparisonRow, double?> Value, bool Log);

    private static readonly Panel[] Panels =
    [
        new("Start to first console output (s)", r => r.StartSeconds, true),
        new("CPU, ring-3 loop (MIPS)", r => r.CpuMips, true),
        new("One I/O round trip (µs)", r => r.IoRoundTripMicroseconds, true),
        new("Console throughput (MB/s)", r => r.BulkIoMBps, true),
        new("Host memory overhead (MiB)", r => r.MemoryOverheadMiB, false),
    ];

    private static readonly Color[] ModelColors =
        [Color.FromHex("#c0392b"), Color.FromHex("#2980b9"), Color.FromHex("#27ae60"), Color.FromHex("#8e44ad"), Color.FromHex("#7f8c8d")];

    public const int Width = 1500, Height = 860;

    /// <summary>Writes the chart to <paramref name="path"/>, a .png or an .svg.</summary>
    public static void Save(IReadOnlyList<ModelComparisonRow> rows, string path)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is not (".png" or ".svg"))
            throw new ArgumentException($"'{path}': the chart is written as .png or .svg, not '{extension}'", nameof(path));

        var multiplot = new Multiplot();
        multiplot.AddPlots(Panels.Length + 1);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(2, 3);
        for (int i = 0; i < Panels.Length; i++) Draw(multiplot.GetPlot(i), Panels[i], rows);
        Legend(multiplot.GetPlot(Panels.Length), rows);

        using var stream = File.Create(path);
        var rect = new PixelRect(0, Width, Height, 0);
        if (extension == ".svg")
        {
            using var canvas = SKSvgCanvas.Create(new SKRect(0, 0, Width, Height), stream);
            multiplot.Render(canvas, rect);
        }
        else
        {
            using var surface = SKSurface.Create(new SKImageInfo(Width, Height));
            surface.Canvas.Clear(SKColors.White);
            multiplot.Render(surface.Canvas, rect);
            using var image = surface.Snapshot();
            using var png = image.Encode(SKEncodedImageFormat.Png, 100);
            png.SaveTo(stream);
        }
    }

    private static void Draw(Plot plot, Panel panel, IReadOnlyList<ModelComparisonRow> rows)
    {
        plot.Title(panel.Title, size: 15);
        var measured = rows.Select((r, i) => (Row: r, Index: i, Value: panel.Value(r)))
            .Where(x => x.Value is > 0).ToList();
        // On a log scale the bars stand on the power of ten below the smallest value, and are drawn shifted up by
        // it, so every bar is positive and its value label sits above it.
        double floor = panel.Log && measured.Count > 0 ? Math.Floor(measured.Min(x => Math.Log10(x.Value!.Value))) : 0;
        var bars = measured.Select(x => new Bar
        {
            Position = x.Index,
            Value = panel.Log ? Math.Log10(x.Value!.Value) - floor : x.Value!.Value,
            FillColor = ModelColors[x.Index % ModelColors.Length],
            Label = FormatValue(x.Value!.Value),
        }).ToList();
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 13;
        // What was not measured says so where its bar would be.
        foreach (var (row, index) in rows.Select((r, i) => (r, i)).Where(x => panel.Value(x.r) is not > 0))
        {
            var text = plot.Add.Text(row.Available ? "not measured" : "not available", index, 0);
            text.LabelFontSize = 12;
            text.LabelFontColor = Colors.Gray;
            text.LabelAlignment = Alignment.LowerCenter;
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, rows.Count).Select(i => (double)i).ToArray(), rows.Select(r => r.Model).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.HideGrid();
        double top = bars.Count > 0 ? bars.Max(b => b.Value) : 1;
        if (panel.Log)
        {
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                IntegerTicksOnly = true,
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                LabelFormatter = y => FormatPower(y + floor),
            };
            plot.Axes.Left.Label.Text = "log scale";
            plot.Axes.Left.Label.FontSize = 11;
            plot.Axes.SetLimits(-0.6, rows.Count - 0.4, 0, Math.Max(1, Math.Ceiling(top + 0.35)));
        }
        else
        {
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { MaxTickCount = 6 };
            plot.Axes.SetLimits(-0.6, rows.Count - 0.4, 0, top * 1.2);
        }
    }

    /// <summary>Three significant digits, or the whole number when it has more.</summary>
    private static string FormatValue(double value) => value.ToString(
        value >= 100 ? "#,0" : value >= 10 ? "0.#" : value >= 1 ? "0.##" : "G3", System.Globalization.CultureInfo.InvariantCulture);

    private static string FormatPower(double exponent)
    {
        double value = Math.Pow(10, Math.Round(exponent));
        return value switch
        {
            >= 1e9 => $"{value / 1e9:0}G",
            >= 1e6 => $"{value / 1e6:0}M",
            >= 1e3 => $"{value / 1e3:0}k",
            _ => value.ToString("0.#####", System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    /// <summary>The last panel: the models' colours and techniques, and why a model has no figures.</summary>
    private static void Legend(Plot plot, IReadOnlyList<ModelComparisonRow> rows)
    {
        plot.Layout.Frameless();
        plot.HideGrid();
        plot.Axes.SetLimits(0, 1, 0, rows.Count + 1);
        plot.Title("Compare-VirtModel on this host", size: 15);
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            double y = rows.Count - i;
            plot.Add.Marker(0.04, y, MarkerShape.FilledSquare, 14, ModelColors[i % ModelColors.Length]);
            string text = $"{row.Model}: {row.Technique}" + (row.Available ? "" : "\n" + WordWrap.Wrap($"not available: {row.Reason}", 60));
            var label = plot.Add.Text(text, 0.09, y);
            label.LabelFontSize = 13;
            label.LabelAlignment = Alignment.MiddleLeft;
        }
    }
}
