import LogSurgeGeo
import LogSurgeParse
@_spi(Pipeline) import LogSurgeAggregate

/// Something a run found that probably makes its numbers wrong, said in the summary
/// (`"warnings"`), the reports and on standard error, with the option that fixes it.
public struct RunWarning: Sendable, Equatable {
    /// The warnings' codes: a fixed set, part of the summary's wire format.
    public enum Code: String, Sendable, CaseIterable {
        /// Half or more of the requests come from private addresses or embedded CDN ranges,
        /// and neither `--real-ip` nor `--country-from` was given: the countries are the proxies'.
        case clientsBehindProxy = "clients_behind_proxy"
        /// `--country-from` was given without `--real-ip`, and half or more of the requests come
        /// from private addresses or CDN edges: the countries are the visitors', the clients
        /// (the `clients` column, the crowd test of surges) are the proxies.
        case clientsAreProxies = "clients_are_proxies"
        /// `--real-ip` names a header that an input's format does not log.
        case realIPNotLogged = "real_ip_not_logged"
        /// `--country-from` names a header that an input's format does not log.
        case countryHeaderNotLogged = "country_header_not_logged"
        /// An input's times carry no UTC offset (a strftime pattern without `%z`, JSON ISO 8601
        /// times without one): read as UTC.
        case timeWithoutZone = "time_without_zone"
        /// `--real-ip` or `--country-from` was given, yet half or more of the requests still
        /// resolve to private addresses or CDN edges.
        case clientsStillBehindProxy = "clients_still_behind_proxy"
        /// `--real-ip` was given, and half or more of the requests carried the header but came
        /// from public addresses that are not trusted proxies (a balancer of the user's own).
        case realIPUntrusted = "real_ip_untrusted"
        /// Malformed lines of an input parse under another named format: the format changed
        /// within it, or another log was appended to it.
        case linesInAnotherFormat = "lines_in_another_format"
        /// With `--state`, inputs ended in a line without its newline: not counted in this run
        /// (it may be half written); a later run counts it once it ends.
        case lineHeldBack = "line_held_back"
        /// More distinct sites than a run can keep apart (65,534): the later ones are counted
        /// under `~other`.
        case sitesFolded = "sites_folded"
        /// Reading a stream decided as it goes (a pipe, `--follow`), lines came after the
        /// detectors had decided their minute: they count in the buckets, not in detection.
        case lateLines = "late_lines"
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The warnings `analysis` calls for, read with `configuration`.
    static func evaluate(_ analysis: Analysis, configuration: AnalyzeConfiguration) -> [RunWarning] {
        var warnings: [RunWarning] = []
        let accounting = analysis.accounting
        let headers = configuration.lines.headers
        let formats = analysis.inputs.compactMap(\.format)
        if headers.forwarded == nil, headers.country == nil, accounting.parsed > 0,
            accounting.clients.behindProxy * 2 >= accounting.parsed
        {
            let share = Double(accounting.clients.behindProxy) / Double(accounting.parsed) * 100
            // The headers the inputs' formats log that would fix it, named as users write them.
            let logged = Set(formats.flatMap { $0.loggedHeaders ?? [] })
            let clientHeader = Self.clientHeaders.first { logged.contains(HeaderName($0).normalized) }
            let countryHeader = Self.countryHeaders.first { logged.contains(HeaderName($0).normalized) }
            var fixes: [String] = []
            if let clientHeader { fixes.append("add --real-ip \(clientHeader)") }
            if let countryHeader { fixes.append("add --country-from \(countryHeader)") }
            let fix =
                fixes.isEmpty
                ? "log the visitor's address (nginx $http_x_forwarded_for, Apache %{X-Forwarded-For}i) and give --real-ip X-Forwarded-For, or give the CDN's country header with --country-from (CF-IPCountry, CloudFront-Viewer-Country)"
                : "the log holds what fixes it: " + fixes.joined(separator: ", or ")
            warnings.append(
                RunWarning(
                    code: .clientsBehindProxy,
                    message:
                        "\(Self.percent(share)) of the requests (\(accounting.clients.behindProxy) of \(accounting.parsed)) come from private addresses or CDN edges, so their countries are the proxies', not the visitors': \(fix)"
                ))
        }
        if headers.forwarded == nil, let country = headers.country, accounting.parsed > 0,
            accounting.clients.behindProxy * 2 >= accounting.parsed
        {
            let logged = Set(formats.flatMap { $0.loggedHeaders ?? [] })
            let clientHeader = Self.clientHeaders.first { logged.contains(HeaderName($0).normalized) }
            let fix =
                clientHeader.map { "the log holds the visitor's address: add --real-ip \($0)" }
                ?? "log the visitor's address (nginx $http_x_forwarded_for, Apache %{X-Forwarded-For}i) and give --real-ip X-Forwarded-For"
            warnings.append(
                RunWarning(
                    code: .clientsAreProxies,
                    message:
                        "\(Self.percent(Double(accounting.clients.behindProxy) / Double(accounting.parsed) * 100)) of the requests (\(accounting.clients.behindProxy) of \(accounting.parsed)) come from private addresses or CDN edges: their countries come from --country-from \(country.name), but their clients are the proxies, so the clients column counts proxies and a surge cannot be told from a crawler: \(fix)"
                ))
        }
        for (header, code, option) in [
            (headers.forwarded, Code.realIPNotLogged, "--real-ip"), (headers.country, .countryHeaderNotLogged, "--country-from"),
        ] {
            guard let header else { continue }
            let missing = analysis.inputs.filter { input in
                guard let logged = input.format?.loggedHeaders, input.lines > 0 else { return false }
                return !logged.contains(header.normalized)
            }
            guard !missing.isEmpty else { continue }
            let names =
                missing.prefix(3).map { "\($0.name) (\($0.format!.name))" }.joined(separator: ", ")
                + (missing.count > 3 ? " and \(missing.count - 3) more" : "")
            let implied = missing.compactMap { $0.format?.impliedForwarded }.first
            let consequence =
                code == .countryHeaderNotLogged
                ? "their countries come from the database"
                : implied.map { "their clients come from the \($0.name) chain it logs in place of the client" }
                    ?? "their clients are the connecting addresses"
            warnings.append(
                RunWarning(
                    code: code, message: "\(option) \(header.name): the format of \(names) does not log that header, so \(consequence)"))
        }
        if headers.forwarded != nil || headers.country != nil, accounting.parsed > 0,
            accounting.clients.stillBehindProxy * 2 >= accounting.parsed
        {
            let still = accounting.clients.stillBehindProxy
            let share = Double(still) / Double(accounting.parsed) * 100
            let given = [headers.forwarded.map { "--real-ip \($0.name)" }, headers.country.map { "--country-from \($0.name)" }]
                .compactMap { $0 }.joined(separator: " and ")
            warnings.append(
                RunWarning(
                    code: .clientsStillBehindProxy,
                    message:
                        "\(Self.percent(share)) of the requests (\(still) of \(accounting.parsed)) still resolve to private addresses or CDN edges despite \(given): the header is missing or holds only proxies on those lines, or the proxy the requests came through is not trusted (add it with --trusted-proxy)"
                ))
        }
        if let header = headers.forwarded, accounting.parsed > 0, accounting.clients.headerFromUntrusted * 2 >= accounting.parsed {
            let count = accounting.clients.headerFromUntrusted
            let example = accounting.clients.untrustedExample.map { " (such as \($0))" } ?? ""
            warnings.append(
                RunWarning(
                    code: .realIPUntrusted,
                    message:
                        "--real-ip \(header.name): \(Self.percent(Double(count) / Double(accounting.parsed) * 100)) of the requests (\(count) of \(accounting.parsed)) carried the header but came from public addresses that are not trusted proxies\(example), so their clients are those addresses: if they are your balancers, name them with --trusted-proxy CIDR"
                ))
        }
        let zonelessFormats = analysis.inputs.filter { $0.format?.timeWithoutZone ?? false }
        if !zonelessFormats.isEmpty {
            let names =
                zonelessFormats.prefix(3).map(\.name).joined(separator: ", ")
                + (zonelessFormats.count > 3 ? " and \(zonelessFormats.count - 3) more" : "")
            warnings.append(
                RunWarning(
                    code: .timeWithoutZone,
                    message: "the times of \(names) carry no UTC offset and were read as UTC: add %z to the format's time"))
        } else if accounting.clients.timesWithoutZone > 0 {
            warnings.append(
                RunWarning(
                    code: .timeWithoutZone,
                    message:
                        "\(accounting.clients.timesWithoutZone) requests had a time without a UTC offset (such as 2024-10-10T13:55:36) and were read as UTC: log the offset (nginx $time_iso8601, Go's time.RFC3339)"
                ))
        }
        if analysis.lateLines > 0, accounting.parsed > 0 {
            let share = Double(analysis.lateLines) / Double(accounting.parsed) * 100
            let what =
                "\(Self.percent(share)) of the requests (\(analysis.lateLines) of \(accounting.parsed)) came after the detectors had decided their minute, so they count in the buckets but not in detection: "
            // Following named files, their order is not the reader's to fix: the lines were
            // logged late (several logs with skewed clocks, requests logged when they end).
            let why =
                configuration.follow != nil
                ? "they were logged minutes after newer lines (logs of servers whose clocks differ, or requests logged when they end after minutes); the minute decided \(configuration.detection?.lateness.map { "\($0) minutes" } ?? "a few minutes") behind the newest line is what waits for them"
                : "the stream was out of time order (`zcat access.log.*.gz |` reads the newest archive first, and .10.gz before .2.gz); give the files or their directory as arguments instead (logsurge /var/log/nginx/ reads rotated files oldest first)"
            warnings.append(RunWarning(code: .lateLines, message: what + why))
        }
        warnings += anotherFormat(analysis)
        if let folded = analysis.buckets.requestsBySite()[MinuteBuckets.overflowSite], folded.requests > 0 {
            warnings.append(
                RunWarning(
                    code: .sitesFolded,
                    message:
                        "more than 65,534 distinct sites: the quietest \(analysis.buckets.sitesFolded) were counted under \(MinuteBuckets.overflowSite) (\(folded.requests) requests), the busiest kept apart; a scanner sending random Host headers does this: leave its lines out of the input"
                ))
        }
        let holding = analysis.inputs.filter { ($0.stats?.heldBack ?? 0) > 0 }
        if !holding.isEmpty {
            let names = holding.prefix(3).map(\.name).joined(separator: ", ") + (holding.count > 3 ? " and \(holding.count - 3) more" : "")
            warnings.append(
                RunWarning(
                    code: .lineHeldBack,
                    message:
                        "\(names) \(holding.count == 1 ? "ends" : "end") in a line without its newline, perhaps still being written: not counted yet; the next --state run counts it once it ends (or once the file is compressed)"
                ))
        }
        return warnings
    }

    /// `lines_in_another_format`: inputs whose kept malformed samples parse under another named format.
    private static func anotherFormat(_ analysis: Analysis) -> [RunWarning] {
        // Blank and overlong lines say nothing about the format.
        let telling = MalformedReason.allCases.enumerated().filter { $0.element != .empty && $0.element != .tooLong }.map(\.offset)
        var warnings: [RunWarning] = []
        for input in analysis.inputs where input.parsed > 0 {
            guard let format = input.format, !format.isW3C else { continue }
            let malformed = telling.reduce(UInt64(0)) { $0 + input.malformed[$1] }
            guard malformed > 0 else { continue }
            let samples = analysis.accounting.samples.filter { $0.input == input.name && $0.reason != .empty && $0.reason != .tooLong }
            let other = samples.lazy.compactMap { sample in
                sample.bytes.withUnsafeBytes { LineFormat.detect([$0]) }
            }.first { $0.name != format.name }
            guard let other else { continue }
            warnings.append(
                RunWarning(
                    code: .linesInAnotherFormat,
                    message:
                        "\(malformed) lines of \(input.name) did not parse as \(format.name), and some of them parse as \(other.name): the format changed within the input, or another log was added to it; read those lines with --format \(other.name)"
                ))
        }
        return warnings
    }

    /// Request headers that carry the visitor's address, in the order a fix names them.
    static let clientHeaders = ["X-Forwarded-For", "CF-Connecting-IP", "True-Client-IP", "X-Real-IP", "Forwarded"]
    /// Request headers in which a CDN states the visitor's country.
    static let countryHeaders = ["CF-IPCountry", "CloudFront-Viewer-Country"]

    static func percent(_ value: Double) -> String {
        // A share that rounds to 0 is not none (a late line of millions is still said).
        if value > 0 && value < 0.05 { return "under 0.1 %" }
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? "\(Int(tenths)) %" : "\(tenths) %"
    }
}
