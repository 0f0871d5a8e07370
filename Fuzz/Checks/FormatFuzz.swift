import LogSurgeGeo
import LogSurgeParse
import LogSurgeCore

/// The formats beyond the four built-in layouts, on every line of the parser target's input:
/// compiled format strings (read by the built-in scanner, by its prefix and the interpreter,
/// or by the interpreter alone), JSON and Caddy lines, W3C with the columns the input's own
/// `#Fields:` lines give, and the walk of every forwarded chain a line yields.
///
/// For each format and line:
/// - a fresh parser and one warm from the lines before it (its time caches, its JSON key
///   predictions, its W3C columns from a fresh start) give the same result, except W3C, whose
///   columns are the input's state;
/// - a parsed line has its ranges inside the line, a status of at most 999 and a minute that
///   formats and parses back; a trailing `"\r"` changes nothing;
/// - the compiled Apache combined string gives exactly what the built-in combined parser gives;
/// - the chain of a parsed line walks without a crash to an address of the chain or the
///   connecting address, whatever the trust.
enum FormatFuzz {
    /// The formats checked, with the headers bound to roles.
    static let formats: [(name: String, format: LineFormat, headers: HeaderRoles)] = {
        let forwarded = HeaderRoles(forwarded: HeaderName("X-Forwarded-For"), country: HeaderName("CF-IPCountry"))
        func compiled(_ string: String) -> LineFormat {
            guard let format = try? LineFormat.compile(string, clientHeaders: ["x_forwarded_for"]) else {
                preconditionFailure("a fuzz format string does not compile: \(string)")
            }
            return format
        }
        return [
            ("apache combined", compiled(#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""#), HeaderRoles()),
            ("main", .main, forwarded),
            (
                "prefix then interpreted",
                compiled(
                    #"$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time "$http_x_forwarded_for" "$http_cf_ipcountry""#
                ), forwarded
            ),
            (
                "interpreted",
                compiled(
                    #"$remote_addr [$time_iso8601] "$request" $status $bytes_sent $msec $upstream_response_time "$http_x_forwarded_for""#),
                forwarded
            ),
            ("strftime pieces", compiled(#"%h [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] \"%r\" %>s %b %{Host}i:%p"#), forwarded),
            ("xff first", .xffCombined, forwarded),
            ("alb", .alb, forwarded),
            ("json", LineFormat.named("json")!, forwarded),
            ("caddy", LineFormat.named("caddy")!, forwarded),
            ("w3c", LineFormat.named("w3c")!, forwarded),
        ]
    }()

    /// The chain walks tried on every parsed line: the default trust, RFC 7239, and trusting everything.
    static let walks = [
        ForwardedChain(trusted: TrustedProxies.proxyLike), ForwardedChain(trusted: TrustedProxies.proxyLike, rfc7239: true),
        ForwardedChain(trusted: (try? TrustedProxies.set(["0.0.0.0/0", "::/0"])) ?? AddressSet()),
    ]

    static func check(lines: [UnsafeRawBufferPointer], problems: inout [String]) {
        // Parsers made once; a fresh one for a line is a copy without learnt state (`fresh()`).
        let prototypes = formats.map { $0.format.parser(headers: $0.headers) }
        var warm = prototypes.map { $0.fresh() }
        var builtIn = AccessLogParser(format: .combined)
        let walks = Self.walks
        for source in lines {
            withExactCopies(of: source) { bytes, withCR in
                check(
                    line: bytes, withCR: withCR, prototypes: prototypes, warm: &warm, builtIn: &builtIn, walks: walks, problems: &problems)
            }
        }
    }

    private static func check(
        line bytes: UnsafeRawBufferPointer, withCR: UnsafeRawBufferPointer, prototypes: [LineParser],
        warm: inout [LineParser], builtIn: inout AccessLogParser, walks: [ForwardedChain], problems: inout [String]
    ) {
        let count = bytes.count
        let text = escaped(bytes)
        for (index, entry) in formats.enumerated() {
            let warmResult = warm[index].parse(bytes)
            var fresh = prototypes[index].fresh()
            let result = fresh.parse(bytes)
            if !entry.format.isW3C, warmResult != result {
                problems.append("\(entry.name): a warm parser gave \(warmResult), a fresh one \(result): \(text)")
            }
            for problem in validate(result, bytes) { problems.append("\(entry.name): \(problem): \(text)") }
            if count == 0 || bytes[count - 1] != 0x0D {
                var again = prototypes[index].fresh()
                let crResult = again.parse(withCR)
                if crResult != result { problems.append("\(entry.name): with a trailing CR \(crResult), without \(result): \(text)") }
            }
            if index == 0 {
                let reference = builtIn.parse(bytes)
                if reference != result {
                    problems.append("the compiled combined string gave \(result), the built-in parser \(reference): \(text)")
                }
            }
            if case .parsed(let fields) = result { walk(fields, bytes, walks, name: entry.name, text: text, problems: &problems) }
        }
    }

    /// What is wrong with a parsed line's fields (empty when nothing is).
    static func validate(_ result: ParseResult, _ line: UnsafeRawBufferPointer) -> [String] {
        guard case .parsed(let fields) = result else { return [] }
        var problems: [String] = []
        var length = line.count
        if length > 0 && line[length - 1] == 0x0D { length -= 1 }
        for (name, range) in [
            ("client", fields.client), ("host", fields.host), ("path", fields.path),
            ("forwarded", fields.forwarded), ("country", fields.countryHint),
        ] {
            if let range, range.lowerBound < 0 || range.upperBound > length || range.isEmpty && name == "client" {
                problems.append("\(name) range \(range) in a line of \(length) bytes")
            }
        }
        if fields.status > 999 { problems.append("status \(fields.status)") }
        let minute = UTCMinute.format(fields.minute)
        if UTCMinute.parse(minute) != fields.minute {
            problems.append("minute \(fields.minute) formats as \(minute), which does not parse back")
        }
        return problems
    }

    /// Walks the line's chain under every trust: the client is the connecting address or an
    /// address written in the chain.
    static func walk(
        _ fields: ParsedLine, _ line: UnsafeRawBufferPointer, _ walks: [ForwardedChain], name: String, text: String,
        problems: inout [String]
    ) {
        let connecting = fields.client.flatMap { IPAddress(parsing: UnsafeRawBufferPointer(rebasing: line[$0])) }
        let chain = fields.forwarded.map { UnsafeRawBufferPointer(rebasing: line[$0]) }
        for walk in walks {
            let (client, source) = walk.client(chain: chain, connecting: connecting, connectingLogged: fields.client != nil)
            switch source {
            case .connecting:
                if client != connecting { problems.append("\(name): a client from the connecting address that is not it: \(text)") }
            case .forwarded:
                guard let client, let chain else {
                    problems.append("\(name): a forwarded client without a chain: \(text)")
                    continue
                }
                // Its text (as an address, possibly bracketed or with a port) stands in the chain.
                let written = client.isIPv4 ? Array(client.description.utf8) : []
                if !written.isEmpty, !contains(chain, written) {
                    problems.append("\(name): forwarded client \(client) is not in the chain: \(text)")
                }
            case .none:
                if client != nil { problems.append("\(name): no source, but a client \(String(describing: client)): \(text)") }
            }
        }
    }

    private static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }
}
