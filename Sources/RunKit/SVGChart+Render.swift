import Foundation

extension SVGChart {
    static let panelWidth = 480.0, panelHeight = 300.0, headerHeight = 40.0
    static let margin = (left: 70.0, right: 20.0, top: 46.0, bottom: 48.0)
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    /// The chart as an SVG document.
    public var svg: String {
        let columns = panels.count > 1 ? 2 : 1
        let rows = max(1, (panels.count + columns - 1) / columns)
        let width = Double(columns) * Self.panelWidth
        let height = Self.headerHeight + Double(rows) * Self.panelHeight
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" \
            viewBox="0 0 \(f(width)) \(f(height))" font-family="Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="#ffffff"/>
            <text x="\(f(width / 2))" y="26" text-anchor="middle" font-size="18" font-weight="bold" \
            fill="#222">\(escape(title))</text>

            """
        for (index, panel) in panels.enumerated() {
            let x = Double(index % columns) * Self.panelWidth
            let y = Self.headerHeight + Double(index / columns) * Self.panelHeight
            out += render(panel, x: x, y: y)
        }
        return out + "</svg>\n"
    }

    private func render(_ panel: Panel, x: Double, y: Double) -> String {
        let m = Self.margin
        let left = x + m.left
        let top = y + m.top
        let w = Self.panelWidth - m.left - m.right
        let h = Self.panelHeight - m.top - m.bottom
        let all = panel.series.flatMap(\.finitePoints)
        let xs = Axis(values: all.map(\.x), integer: true)
        let ys = Axis(values: all.map(\.y), integer: false)
        func px(_ v: Double) -> Double { left + (v - xs.low) / (xs.high - xs.low) * w }
        func py(_ v: Double) -> Double { top + h - (v - ys.low) / (ys.high - ys.low) * h }

        var out = "<g class=\"panel\">\n"
        out +=
            "<text x=\"\(f(x + Self.panelWidth / 2))\" y=\"\(f(y + 22))\" text-anchor=\"middle\" font-size=\"15\" "
            + "font-weight=\"bold\" fill=\"#222\">\(escape(panel.title))</text>\n"
        out +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"#fafafa\" "
            + "stroke=\"#444\" stroke-width=\"1\"/>\n"
        for tick in ys.ticks {
            let ty = py(tick)
            out +=
                "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(left + w))\" y2=\"\(f(ty))\" stroke=\"#e0e0e0\"/>\n"
            out += "<line x1=\"\(f(left - 5))\" y1=\"\(f(ty))\" x2=\"\(f(left))\" y2=\"\(f(ty))\" stroke=\"#444\"/>\n"
            out +=
                "<text x=\"\(f(left - 8))\" y=\"\(f(ty + 4))\" text-anchor=\"end\" font-size=\"11\" "
                + "fill=\"#333\">\(ys.label(tick))</text>\n"
        }
        for tick in xs.ticks {
            let tx = px(tick)
            out += "<line x1=\"\(f(tx))\" y1=\"\(f(top))\" x2=\"\(f(tx))\" y2=\"\(f(top + h))\" stroke=\"#e0e0e0\"/>\n"
            out +=
                "<line x1=\"\(f(tx))\" y1=\"\(f(top + h))\" x2=\"\(f(tx))\" y2=\"\(f(top + h + 5))\" stroke=\"#444\"/>\n"
            out +=
                "<text x=\"\(f(tx))\" y=\"\(f(top + h + 18))\" text-anchor=\"middle\" font-size=\"11\" "
                + "fill=\"#333\">\(xs.label(tick))</text>\n"
        }
        out +=
            "<text x=\"\(f(left + w / 2))\" y=\"\(f(top + h + 38))\" text-anchor=\"middle\" font-size=\"12\" "
            + "fill=\"#333\">\(escape(xLabel))</text>\n"
        let cy = top + h / 2
        out +=
            "<text x=\"\(f(x + 16))\" y=\"\(f(cy))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#333\" "
            + "transform=\"rotate(-90 \(f(x + 16)) \(f(cy)))\">\(escape(panel.yLabel))</text>\n"
        if all.isEmpty {
            out +=
                "<text x=\"\(f(left + w / 2))\" y=\"\(f(cy + 5))\" text-anchor=\"middle\" font-size=\"14\" "
                + "fill=\"#999\">no data yet</text>\n"
        }
        var legendX = left + w
        for (index, series) in panel.series.enumerated() {
            let points = series.finitePoints
            guard let last = points.last else { continue }
            let color = Self.palette[index % Self.palette.count]
            let coordinates = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            out +=
                "<polyline class=\"series\" data-name=\"\(escape(series.name))\" points=\"\(coordinates)\" "
                + "fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" stroke-linejoin=\"round\"/>\n"
            if points.count <= 40 {
                for p in points {
                    out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.5\" fill=\"\(color)\"/>\n"
                }
            }
            let legend = "\(series.name) = \(ys.label(last.y, extra: 2))"
            out +=
                "<text x=\"\(f(legendX))\" y=\"\(f(top - 6))\" text-anchor=\"end\" font-size=\"11\" "
                + "fill=\"\(color)\">\(escape(legend))</text>\n"
            legendX -= 6.5 * Double(legend.count) + 12
        }
        return out + "</g>\n"
    }
}

/// A linear axis over some values, widened to round tick values.
struct Axis {
    let low: Double, high: Double, step: Double, ticks: [Double]

    init(values: [Double], integer: Bool) {
        var lo = values.min() ?? 0
        var hi = values.max() ?? 1
        if lo == hi {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        var step = Axis.niceStep((hi - lo) / 5)
        if integer { step = max(1, step.rounded()) }
        if !step.isFinite || step <= 0 { step = 1 }
        var low = (lo / step).rounded(.down) * step
        var high = (hi / step).rounded(.up) * step
        if !(high > low) || !low.isFinite || !high.isFinite {
            low = 0
            high = 1
            step = 0.25
        }
        self.low = low
        self.high = high
        self.step = step
        let count = Int(((high - low) / step).rounded())
        ticks = (0...min(max(count, 1), 20)).map { low + Double($0) * step }
    }

    /// 1, 2 or 5 times a power of ten, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let power = pow(10, (log10(raw)).rounded(.down))
        for factor in [1.0, 2, 5, 10] where factor * power >= raw * 0.999_999 { return factor * power }
        return 10 * power
    }

    /// A tick label with as many decimals as the step needs (plus `extra`).
    func label(_ v: Double, extra: Int = 0) -> String {
        let magnitude = max(abs(low), abs(high))
        if magnitude >= 1e6 || (magnitude > 0 && magnitude < 1e-4) { return String(format: "%.\(3 + extra)g", v) }
        let decimals = step >= 1 ? 0 : Int((-log10(step)).rounded(.up))
        let text = String(format: "%.\(min(decimals + extra, 8))f", v)
        return text == "-0" ? "0" : text.hasPrefix("-0") && Double(text) == 0 ? String(text.dropFirst()) : text
    }
}

/// A coordinate with one decimal.
private func f(_ v: Double) -> String { String(format: "%.1f", v.isFinite ? v : 0) }

/// XML text escaping.
private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
