import LogSurgeGeo
import LogSurgeParse

/// Something a run found that probably makes its numbers wrong, said in the summary
/// (`"warnings"`), the reports and on standard error, with the option that fixes it.
public struct RunWarning: Sendable, Equatable {
    /// The warnings' codes: a fixed set, part of the summary's wire format.
    public enum Code: String, Sendable, CaseIterable {
        /// Half or more of the requests come from private addresses or embedded CDN ranges,
        /// and neither `--real-ip` nor `--country-from` was given: the countries are the proxies'.
        case clientsBehindProxy = "clients_behind_proxy"
        /// `--real-ip` names a header that an input's format does not log.
        case realIPNotLogged = "real_ip_not_logged"
        /// `--country-from` names a header that an input's format does not log.
        case countryHeaderNotLogged = "country_header_not_logged"
        /// An input's times carry no UTC offset (a strftime pattern without `%z`): read as UTC.
        case timeWithoutZone = "time_without_zone"
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
        let headers = configuration.headers
        let formats = analysis.inputs.compactMap(\.format)
        if headers.forwarded == nil, headers.country == nil, accounting.parsed > 0,
           accounting.clients.behindProxy * 2 >= accounting.parsed {
            let share = Double(accounting.clients.behindProxy) / Double(accounting.parsed) * 100
            // The headers the inputs' formats log that would fix it, named as users write them.
            let logged = Set(formats.flatMap { $0.loggedHeaders ?? [] })
            let clientHeader = Self.clientHeaders.first { logged.contains(HeaderName($0).normalized) }
            let countryHeader = Self.countryHeaders.first { logged.contains(HeaderName($0).normalized) }
            var fixes: [String] = []
            if let clientHeader { fixes.append("add --real-ip \(clientHeader)") }
            if let countryHeader { fixes.append("add --country-from \(countryHeader)") }
            let fix = fixes.isEmpty
                ? "log the visitor's address (nginx $http_x_forwarded_for, Apache %{X-Forwarded-For}i) and give --real-ip X-Forwarded-For, or give the CDN's country header with --country-from (CF-IPCountry, CloudFront-Viewer-Country)"
                : "the log holds what fixes it: " + fixes.joined(separator: ", or ")
            warnings.append(RunWarning(
                code: .clientsBehindProxy,
                message: "\(Self.percent(share)) of the requests (\(accounting.clients.behindProxy) of \(accounting.parsed)) come from private addresses or CDN edges, so their countries are the proxies', not the visitors': \(fix)"))
        }
        for (header, code, option) in [(headers.forwarded, Code.realIPNotLogged, "--real-ip"), (headers.country, .countryHeaderNotLogged, "--country-from")] {
            guard let header else { continue }
            let missing = analysis.inputs.filter { input in
                guard let logged = input.format?.loggedHeaders, input.lines > 0 else { return false }
                return !logged.contains(header.normalized)
            }
            guard !missing.isEmpty else { continue }
            let names = missing.prefix(3).map { "\($0.name) (\($0.format!.name))" }.joined(separator: ", ") + (missing.count > 3 ? " and \(missing.count - 3) more" : "")
            let consequence = code == .realIPNotLogged ? "their clients are the connecting addresses" : "their countries come from the database"
            warnings.append(RunWarning(code: code, message: "\(option) \(header.name): the format of \(names) does not log that header, so \(consequence)"))
        }
        let zoneless = analysis.inputs.filter { $0.format?.timeWithoutZone ?? false }
        if !zoneless.isEmpty {
            let names = zoneless.prefix(3).map(\.name).joined(separator: ", ") + (zoneless.count > 3 ? " and \(zoneless.count - 3) more" : "")
            warnings.append(RunWarning(code: .timeWithoutZone, message: "the times of \(names) carry no UTC offset and were read as UTC: add %z to the format's time"))
        }
        return warnings
    }

    /// Request headers that carry the visitor's address, in the order a fix names them.
    static let clientHeaders = ["X-Forwarded-For", "CF-Connecting-IP", "True-Client-IP", "X-Real-IP", "Forwarded"]
    /// Request headers in which a CDN states the visitor's country.
    static let countryHeaders = ["CF-IPCountry", "CloudFront-Viewer-Country"]

    private static func percent(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? "\(Int(tenths)) %" : "\(tenths) %"
    }
}
