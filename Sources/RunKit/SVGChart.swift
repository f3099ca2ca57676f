import Foundation

/// A small self-contained SVG line chart: panels in a grid, each with axes, ticks, labels and
/// one polyline per series. No scripts, fonts or styles from outside: any browser shows it.
public struct SVGChart: Sendable, Equatable {
    /// One point of a series.
    public struct Point: Sendable, Equatable {
        /// Coordinates (x is the iteration).
        public var x: Double, y: Double
        /// Makes a point.
        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    /// One line in a panel.
    public struct Series: Sendable, Equatable {
        /// Legend name (the metric name).
        public var name: String
        /// Points in x order; non-finite ones are left out when drawing.
        public var points: [Point]
        /// Makes a series.
        public init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }
        /// The points that can be drawn.
        public var finitePoints: [Point] { points.filter { $0.x.isFinite && $0.y.isFinite } }
    }

    /// One plot area.
    public struct Panel: Sendable, Equatable {
        /// Title above the plot.
        public var title: String
        /// Label of the y axis.
        public var yLabel: String
        /// The lines.
        public var series: [Series]
        /// Makes a panel.
        public init(title: String, yLabel: String, series: [Series]) {
            self.title = title
            self.yLabel = yLabel
            self.series = series
        }
    }

    /// Heading of the whole chart.
    public var title: String
    /// The panels, laid out two per row.
    public var panels: [Panel]
    /// Label of every x axis.
    public var xLabel = "iteration"

    /// Makes a chart.
    public init(title: String, panels: [Panel]) {
        self.title = title
        self.panels = panels
    }

    /// The standard run chart: reward mean, held-out accuracy, KL per token and response length
    /// against iteration, from metrics records (iterations missing a metric are skipped).
    public static func standard(records: [MetricsRecord], title: String = "rpp run") -> SVGChart {
        func series(_ name: String) -> Series {
            Series(
                name: name,
                points: records.compactMap { record in
                    record.metrics[name].map { Point(x: Double(record.iteration), y: $0) }
                })
        }
        return SVGChart(
            title: title,
            panels: [
                Panel(title: "Reward (mean)", yLabel: "reward", series: [series(MetricName.rewardMean)]),
                Panel(title: "Held-out accuracy", yLabel: "accuracy", series: [series(MetricName.heldOutAccuracy)]),
                Panel(title: "KL per token", yLabel: "nats/token", series: [series(MetricName.klPerToken)]),
                Panel(title: "Response length", yLabel: "tokens", series: [series(MetricName.responseLength)]),
            ])
    }

    /// Writes `svg` to `path` atomically.
    public func write(to path: String, setting: String = "run.dir") throws {
        try RunFile.writeAtomically(Array(svg.utf8), to: path, setting: setting)
    }

    /// Reads `directory/metrics.jsonl` and writes the standard chart to `directory/chart.svg`.
    public static func writeStandard(directory: String, title: String? = nil) throws {
        let metrics = (directory as NSString).appendingPathComponent("metrics.jsonl")
        let records = FileManager.default.fileExists(atPath: metrics) ? try MetricsJSONL.read(path: metrics) : []
        let name = title ?? (directory as NSString).lastPathComponent
        try standard(records: records, title: name).write(
            to: (directory as NSString).appendingPathComponent("chart.svg"))
    }
}
