import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
import LogSurgeCore
import LogSurge

/// The report a person reads: what was read, what parsed, the time span, sites and countries.
///
/// Every string taken from a log line (site names, samples), a file name or a database's
/// metadata is escaped for the terminal.
public enum TextReport {
    /// Countries listed under "Top countries". By default, 10.
    public static let topCountries = 10

    public static func render(_ analysis: Analysis, databaseDescription: String, style: TerminalStyle = .plain) -> String {
        var out = ""
        let accounting = analysis.accounting
        let read = analysis.inputs.filter { $0.stats != nil }
        let raw = read.reduce(Int64(0)) { $0 + ($1.stats?.bytesRead ?? 0) }
        let text = read.reduce(Int64(0)) { $0 + ($1.stats?.decompressedBytes ?? 0) }

        let inflaters = Set(read.compactMap { $0.stats?.inflater })
        let gzip =
            inflaters.isEmpty
            ? "" : ", gzip inflated with " + Inflater.allCases.filter(inflaters.contains).map(\.description).joined(separator: " and ")
        out +=
            style.bold("Input:")
            + " \(analysis.inputs.count) input\(analysis.inputs.count == 1 ? "" : "s"), \(bytes(raw)) read, \(bytes(text)) of log text, \(analysis.threads) thread\(analysis.threads == 1 ? "" : "s")\(gzip)\n"
        let width = min(48, analysis.inputs.map { Escaping.terminal($0.name).count }.max() ?? 0)
        for input in analysis.inputs {
            let name = pad(Escaping.terminal(input.name), width)
            if let stats = input.stats {
                let kind = stats.compression == .gzip ? "gzip" : "plain"
                let format = input.format.map { $0.name + note(input.formatChoice) } ?? "-"
                out += "  \(name)  \(pad(kind, 5))  \(pad(format, 26))  \(lpad(number(input.lines), 12)) lines\n"
            } else {
                out += "  \(name)  not read\n"
            }
            if let error = input.error {
                out += "    " + style.red("error:") + " \(Escaping.terminal(error.message))\n"
            }
        }

        if !analysis.warnings.isEmpty {
            out += "\n" + style.red("Warnings:") + " check before trusting the figures\n"
            for warning in analysis.warnings {
                out += "  \(warning.code.rawValue): \(Escaping.terminal(warning.message))\n"
            }
        }

        out +=
            "\n" + style.bold("Lines:")
            + " \(number(accounting.lines)) read, \(number(accounting.parsed)) parsed (\(percent(accounting.parsed, of: accounting.lines))), \(number(accounting.malformedTotal)) malformed\n"
        for reason in MalformedReason.allCases {
            guard let count = accounting.malformed[reason], count > 0 else { continue }
            out += "  \(pad(reason.rawValue, 14)) \(lpad(number(count), 12))\n"
            for sample in accounting.samples where sample.reason == reason {
                out +=
                    "    \(Escaping.terminal(sample.input)):\(sample.line): \(Escaping.terminal(sample.bytes))\(sample.bytes.count >= RunAccounting.sampleLength ? "…" : "")\n"
            }
        }
        if accounting.geoLookupErrors > 0 {
            out += "  GeoIP lookups that hit corrupt data (counted as --): \(number(accounting.geoLookupErrors))\n"
        }
        if accounting.clients.truncated > 0 {
            out += "  counted though cut inside their last quoted field: \(number(accounting.clients.truncated))\n"
        }
        if accounting.directives > 0 {
            out += "  W3C directive lines (#Fields: …), not log lines: \(number(accounting.directives))\n"
        }
        let clients = accounting.clients
        if clients[.forwarded] > 0 || clients.countryHeader > 0 || clients.behindProxy > 0 || clients[.none] > 0 {
            var parts = ["\(number(clients[.connecting])) the connecting address", "\(number(clients[.forwarded])) the forwarded chain"]
            if clients[.none] > 0 { parts.append("\(number(clients[.none])) none") }
            out +=
                "\n" + style.bold("Clients:") + " " + parts.joined(separator: ", ")
                + "; \(number(clients.behindProxy)) connecting from private addresses or CDN edges"
                + (clients.countryHeader > 0 ? "; \(number(clients.countryHeader)) countries from the CDN's header" : "")
                + (clients.stillBehindProxy > 0 ? "; \(number(clients.stillBehindProxy)) still at a proxy after resolving" : "") + "\n"
        }

        if let range = analysis.buckets.minuteRange {
            let minutes = Int64(range.upperBound) - Int64(range.lowerBound) + 1
            out +=
                "\n" + style.bold("Time span:")
                + " \(UTCMinute.format(range.lowerBound)) to \(UTCMinute.format(range.upperBound)) (\(duration(minutes)), UTC)\n"
        } else {
            out += "\n" + style.bold("Time span:") + " no requests\n"
        }

        let sites = analysis.buckets.sitesByRequests()
        if !sites.isEmpty {
            out += "\n" + style.bold("Sites") + ": requests, then share of 2xx 3xx 4xx 5xx\n"
            let siteWidth = min(40, sites.map { Escaping.terminal($0.site).count }.max() ?? 0)
            for (site, c) in sites.prefix(20) {
                var shares = [c.status2xx, c.status3xx, c.status4xx, c.status5xx].map { lpad(percent($0, of: c.requests), 6) }
                // A 5xx share of 5% or more stands out.
                if c.requests > 0, c.status5xx * 20 >= c.requests { shares[3] = style.red(shares[3]) }
                out += "  \(pad(Escaping.terminal(site), siteWidth))  \(lpad(number(c.requests), 12))  \(shares.joined(separator: " "))\n"
            }
            if sites.count > 20 { out += "  … and \(sites.count - 20) more sites\n" }
        }

        let countries = analysis.buckets.countriesByRequests()
        if !countries.isEmpty {
            out += "\n" + style.bold("Top countries") + " (\(Escaping.terminal(databaseDescription)))\n"
            for (country, c) in countries.prefix(topCountries) {
                out += "  \(country)  \(lpad(number(c.requests), 12))  \(lpad(percent(c.requests, of: accounting.parsed), 6))\n"
            }
            if countries.count > topCountries { out += "  … \(countries.count - topCountries) more countries\n" }
        }
        return out
    }

    private static func note(_ choice: InputReport.FormatChoice) -> String {
        switch choice {
        case .option: ""
        case .detected: " (detected)"
        case .assumed: " (assumed: none recognised)"
        }
    }

    static func number(_ value: some BinaryInteger) -> String {
        let digits = String(value)
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0, character != "-" { result += "," }
            result.append(character)
        }
        return result
    }

    static func percent(_ part: UInt64, of whole: UInt64) -> String {
        guard whole > 0 else { return "-" }
        let tenths = (part * 1000 + whole / 2) / whole
        return "\(tenths / 10).\(tenths % 10)%"
    }

    public static func bytes(_ count: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == 0 { return "\(count) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    static func duration(_ minutes: Int64) -> String {
        let days = minutes / 1440, hours = minutes % 1440 / 60, rest = minutes % 60
        var parts: [String] = []
        if days > 0 { parts.append("\(days) d") }
        if hours > 0 { parts.append("\(hours) h") }
        if rest > 0 || parts.isEmpty { parts.append("\(rest) min") }
        return parts.joined(separator: " ")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func lpad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
