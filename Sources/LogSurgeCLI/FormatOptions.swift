import ArgumentParser
import Foundation
import LogSurge
import LogSurgeGeo
import LogSurgeParse

/// The options that say how lines are laid out and where the real client and country are:
/// `--format`, `--log-format`, `--log-format-from`, `--json-field`, `--real-ip`,
/// `--trusted-proxy`, `--country-from`.
struct FormatOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Log format: auto, \(LineFormat.named.map(\.name).joined(separator: ", ")).", valueName: "FORMAT"))
    var format: String = "auto"

    @Option(
        help: ArgumentHelp(
            "The server's own format, as in its configuration: an nginx log_format body ($remote_addr [$time_local] ...; escape=json and JSON templates too) or an Apache LogFormat string (%h %l %u %t ... %>s %b).",
            valueName: "STRING"))
    var logFormat: String?

    @Option(
        help: ArgumentHelp(
            "Read the format from an nginx configuration (log_format NAME, default main) or an Apache one (LogFormat ... NAME, default combined).",
            valueName: "CONFIG[:NAME]"))
    var logFormatFrom: String?

    @Option(
        help: ArgumentHelp(
            "With --format json: the key holding a role (time, client, status, size, host, request, path); repeatable. Nested keys with dots: http.response.status_code.",
            valueName: "ROLE=KEY"))
    var jsonField: [String] = []

    @Option(
        help: ArgumentHelp(
            "Take the client from this request header's address chain as the format logs it (X-Forwarded-For, X-Real-IP, CF-Connecting-IP, True-Client-IP, Forwarded), walked from the right past trusted proxies.",
            valueName: "HEADER"))
    var realIP: String?

    @Option(
        help: ArgumentHelp(
            "A proxy whose word is trusted when walking the --real-ip chain or reading --country-from: a CIDR block, an address, private, cdn, or \(CDNProvider.embedded.map(\.name).joined(separator: ", ")); repeatable (default: private and cdn).",
            valueName: "CIDR|NAME"))
    var trustedProxy: [String] = []

    @Option(
        help: ArgumentHelp(
            "Take the country from this request header when it holds an ISO code and the request came from a trusted proxy (CF-IPCountry, CloudFront-Viewer-Country); otherwise the database decides.",
            valueName: "HEADER"))
    var countryFrom: String?

    func validate() throws {
        _ = try resolved()
    }

    /// The format choice, header roles and trusted proxies these options make; a usage error
    /// (`ValidationError`) naming what is wrong.
    func resolved() throws -> (
        format: AnalyzeConfiguration.FormatChoice, headers: HeaderRoles, trusted: AddressSet, countryTrusted: AddressSet
    ) {
        let headers = HeaderRoles(
            forwarded: try header(realIP, option: "--real-ip"), country: try header(countryFrom, option: "--country-from"))
        if logFormat != nil, logFormatFrom != nil {
            throw ValidationError("give the format once: --log-format or --log-format-from, not both")
        }
        if (logFormat != nil || logFormatFrom != nil), format != "auto" {
            throw ValidationError(
                "--format \(format) and --log-format\(logFormatFrom != nil ? "-from" : "") both say what the lines are: give one")
        }
        if format != "auto", LineFormat.named(format) == nil {
            throw ValidationError(
                "unknown format '\(format)': use auto, \(LineFormat.named.map(\.name).joined(separator: ", ")), or give the server's own with --log-format"
            )
        }
        var choice = AnalyzeConfiguration.FormatChoice.auto
        let clientHeaders: Set<String> = headers.forwarded.map { [$0.normalized] } ?? []
        if let string = try formatString() {
            let option = logFormat != nil ? "--log-format" : "--log-format-from \(logFormatFrom!)"
            choice = .fixed(try usage(option) { () throws(FormatError) in try LineFormat.compile(string, clientHeaders: clientHeaders) })
        } else if format != "auto" {
            choice = .fixed(LineFormat.named(format)!)
        }
        if !jsonField.isEmpty {
            var base = JSONFields.generic
            switch choice {
            case .auto: break
            case .fixed(let fixed):
                guard case .json(let fields) = fixed.body else {
                    throw ValidationError("--json-field is for JSON logs (--format json or caddy); the format here is \(fixed.name)")
                }
                base = fields
            }
            var choices: [(role: String, key: String)] = []
            for rule in jsonField {
                guard let equals = rule.firstIndex(of: "="), equals != rule.startIndex else {
                    throw ValidationError(
                        "--json-field '\(rule)' must look like ROLE=KEY, e.g. client=remote_ip (roles: \(JSONFields.roleNames.joined(separator: ", ")))"
                    )
                }
                choices.append((String(rule[..<equals]), String(rule[rule.index(after: equals)...])))
            }
            var name = "json"
            if case .fixed(let fixed) = choice { name = fixed.name }
            let fields = try usage(nil) { () throws(FormatError) in try base.choosing(choices) }
            choice = .fixed(LineFormat(name: name, body: .json(fields)))
        }
        // By default a header that one CDN sets is believed only from that CDN's edges (and
        // private addresses): anyone can put another CDN in front of the origin and have it
        // send `CF-IPCountry: FR`.
        var trusted = try Self.vendorTrust(headers.forwarded) ?? TrustedProxies.proxyLike
        var countryTrusted = try Self.vendorTrust(headers.country) ?? trusted
        if !trustedProxy.isEmpty {
            switch Result(catching: { () throws(AddressSetError) in try TrustedProxies.set(trustedProxy) }) {
            case .success(let set):
                trusted = set
                countryTrusted = set
            case .failure(let error):
                throw ValidationError(
                    "--trusted-proxy \(error.text): not an address, a CIDR block or one of \(TrustedProxies.names.joined(separator: ", "))")
            }
            let implied = if case .fixed(let fixed) = choice { fixed.impliedForwarded != nil } else { false }
            if headers.forwarded == nil, headers.country == nil, !implied {
                throw ValidationError(
                    "--trusted-proxy says whose word --real-ip and --country-from believe: give --real-ip HEADER too (--real-ip X-Forwarded-For for most proxies)"
                )
            }
        }
        return (choice, headers, trusted, countryTrusted)
    }

    /// Headers that one CDN sets, by normalised name, and that CDN's `--trusted-proxy` name.
    static let vendorHeaders = [
        "cf_connecting_ip": "cloudflare", "cf_ipcountry": "cloudflare", "cf_connecting_ipv6": "cloudflare",
        "cloudfront_viewer_address": "cloudfront", "cloudfront_viewer_country": "cloudfront",
        "fastly_client_ip": "fastly",
    ]

    /// Private addresses and the edges of the CDN that sets `header`; nil for other headers.
    static func vendorTrust(_ header: HeaderName?) throws -> AddressSet? {
        guard let header, let vendor = vendorHeaders[header.normalized] else { return nil }
        return try TrustedProxies.set(["private", vendor])
    }

    /// The format string of `--log-format`, or the one `--log-format-from` names.
    private func formatString() throws -> String? {
        if let logFormat { return logFormat }
        guard let logFormatFrom else { return nil }
        // CONFIG[:NAME]: the whole value when it names a file, else split at the last colon.
        var path = logFormatFrom, name: String?
        if !FileManager.default.fileExists(atPath: path), let colon = logFormatFrom.lastIndex(of: ":") {
            path = String(logFormatFrom[..<colon])
            name = String(logFormatFrom[logFormatFrom.index(after: colon)...])
            if name?.isEmpty ?? false { name = nil }
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--log-format-from: cannot read \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        return try usage("--log-format-from") { () throws(FormatError) in
            try FormatConfiguration.formatString(in: text, named: name, file: path)
        }
    }

    /// The result of `body`, its `FormatError` a usage error led by `option`.
    private func usage<T>(_ option: String?, _ body: () throws(FormatError) -> T) throws -> T {
        switch Result(catching: body) {
        case .success(let value): return value
        case .failure(let error): throw ValidationError((option.map { $0 + ": " } ?? "") + error.description)
        }
    }

    private func header(_ value: String?, option: String) throws -> HeaderName? {
        guard let value else { return nil }
        let name = value.hasPrefix("$http_") ? String(value.dropFirst(6)) : value
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else {
            throw ValidationError("\(option) '\(value)' is not a header name (such as X-Forwarded-For)")
        }
        return HeaderName(name)
    }
}
