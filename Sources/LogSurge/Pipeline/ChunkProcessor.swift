import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate

/// Work on its way to a worker: its place in the stream and the format to parse it with.
struct WorkItem: Sendable {
    var sequence: Int
    var input: Int
    var format: LineFormat
    var payload: Payload

    enum Payload: Sendable {
        /// Lines cut by the reader (a stream, gzip).
        case chunk(LineChunk)
        /// The lines starting in a byte range of a plain file, for the worker to read itself.
        case range(PlainFile, Range<Int64>)
    }
}

/// The flattened country tables a worker answers from, once they are built.
struct CountryTables: Sendable {
    var ipv4: IPv4CountryTable?
    var ipv6: IPv6CountryTable?
}

/// What a worker learnt from one chunk, ready to be merged in chunk order.
struct ChunkResult: Sendable {
    var sequence: Int
    var input: Int
    var lines: UInt64 = 0
    var parsed: UInt64 = 0
    var malformed = [UInt64](repeating: 0, count: MalformedReason.allCases.count)
    /// Samples with their 1-based line number within the chunk (directive lines included).
    var samples: [(reason: MalformedReason, line: UInt64, bytes: [UInt8])] = []
    /// Tallies with the site names their indices refer to; more than one only when a chunk
    /// holds more distinct sites than a worker's site table.
    var tallies: [(siteNames: [String], entries: [(key: PackedKey, counts: BucketTable.Counts)], clients: [ClientTally])] = []
    var geoLookupErrors: UInt64 = 0
    /// Where the parsed lines' clients came from, and how many of them the proxies classify.
    var clients = ClientCounts()
    /// W3C directive lines (`#Fields:` …): not log lines, counted apart.
    var directives: UInt64 = 0
    /// For a range: the bytes of the file it covered, and the read error that cut it short.
    var rangeBytes: Int64 = 0
    /// For a byte range: where the last line read ends in the file, and the bytes of an
    /// unterminated last line held back (`PlainFile.RangeLines`).
    var linesEnd: Int64?
    var heldBack: Int64 = 0
    var readError: InputError?
}

/// One worker's reusable state: parsers, GeoIP cache, site table and tally scratch.
///
/// Per line: one parse, one cached country lookup, one site probe and one tally probe; no
/// allocation and no shared state. Counters are published once per chunk.
struct ChunkProcessor {
    private var parsers: [LineFormat: LineParser] = [:]
    private var resolver: CountryResolver
    private var sites: SiteTable
    private var tally = BucketTable()
    /// Each bucket entry's clients: one more probe a line.
    private var clientCounter = ClientCounter()
    private let sectionPrefixes: [[UInt8]]
    private let maxLineLength: Int
    private let headers: HeaderRoles
    private let trusted: AddressSet
    private let countryTrusted: AddressSet
    /// The trusted proxies are the proxy-like addresses (the default): one lookup answers both.
    private let trustedIsProxyLike: Bool
    /// `--real-ip` or `--country-from` was given: count the clients they left at a proxy.
    private let resolvesProxies: Bool
    /// Private addresses and CDN edges, for the `clients_behind_proxy` count.
    private let proxyLike = TrustedProxies.proxyLike
    /// Where ranges of plain files are read; reused from range to range.
    private var rangeBuffer: [UInt8] = []
    /// For a `combined` or `common` input: its lines whose client is an address chain are Apache
    /// proxy lines (`%{X-Forwarded-For}i` in place of `%h`, where a visitor sent the header),
    /// read as `xff_combined` instead of dropped: `%h` never holds a comma.
    private var chainLines: (parser: TemplateParser, chain: ForwardedChain)?
    private var readsChainLines = false

    init(configuration: AnalyzeConfiguration) {
        maxLineLength = configuration.lines.maxLineLength
        resolver = CountryResolver(reader: configuration.database)
        sites = SiteTable(defaultSite: configuration.lines.site, sectionNames: configuration.lines.sections.map(\.name))
        sectionPrefixes = configuration.lines.sections.map { Array($0.prefix.utf8) }
        headers = configuration.lines.headers
        trusted = configuration.lines.trustedProxies
        countryTrusted = configuration.lines.countryTrustedProxies
        trustedIsProxyLike = configuration.lines.trustedProxies == TrustedProxies.proxyLike
        resolvesProxies = configuration.lines.headers.forwarded != nil || configuration.lines.headers.country != nil
    }

    /// A worker forgets its sites between chunks once it knows more than this many, so its
    /// memory stays bounded however many distinct hosts a log holds.
    static let sitesKeptBetweenChunks = 1024

    /// Parses `item`; from now on countries come from the `tables` that are built.
    mutating func process(_ item: WorkItem, tables: CountryTables = CountryTables()) -> ChunkResult {
        if resolver.ipv4Table == nil, let table = tables.ipv4 { resolver.useIPv4Table(table) }
        if resolver.ipv6Table == nil, let table = tables.ipv6 { resolver.useIPv6Table(table) }
        var result = ChunkResult(sequence: item.sequence, input: item.input)
        if sites.names.count > Self.sitesKeptBetweenChunks { sites.reset() }
        var parser = parsers[item.format] ?? item.format.parser(headers: headers)
        parser.wantsPath = !sectionPrefixes.isEmpty
        let chain = item.format.roles(headers).forwarded.map { ForwardedChain(trusted: trusted, rfc7239: $0.isRFC7239) }
        readsChainLines = item.format == .combined || item.format == .common
        let errorsBefore = resolver.lookupErrors
        // One switch per chunk; the line loop is specialised for each parser.
        switch parser {
        case .builtin(var typed):
            process(item, parser: &typed, chain: chain, result: &result)
            parser = .builtin(typed)
        case .template(var typed):
            process(item, parser: &typed, chain: chain, result: &result)
            parser = .template(typed)
        case .json(var typed):
            process(item, parser: &typed, chain: chain, result: &result)
            parser = .json(typed)
        case .w3c(var typed):
            process(item, parser: &typed, chain: chain, result: &result)
            // Each W3C chunk starts with the columns its reader found before it.
            parser = .w3c(typed)
        }
        if !item.format.isW3C { parsers[item.format] = parser }
        result.geoLookupErrors = UInt64(resolver.lookupErrors - errorsBefore)
        result.tallies.append(drainTally())
        return result
    }

    private mutating func process<Parser: LineParsing>(
        _ item: WorkItem, parser: inout Parser, chain: ForwardedChain?, result: inout ChunkResult
    ) {
        switch item.payload {
        case .chunk(let chunk):
            chunk.bytes.withUnsafeBytes { bytes in
                processLines(of: bytes, droppedAt: chunk.overlongLineOffsets, parser: &parser, chain: chain, result: &result)
            }
            // A producer that counted dropped lines without saying where: count them at the end.
            countOverlong(chunk.overlongLines - chunk.overlongLineOffsets.count, in: &result)
        case .range(let file, let range):
            let lines = file.lines(startingIn: range, maxLineLength: maxLineLength, into: &rangeBuffer)
            rangeBuffer.withUnsafeBytes { bytes in
                processLines(
                    of: UnsafeRawBufferPointer(rebasing: bytes[..<lines.count]), droppedAt: [], parser: &parser,
                    chain: chain, result: &result)
            }
            countOverlong(lines.overlongAtEnd ? 1 : 0, in: &result)
            result.rangeBytes = lines.rangeBytes
            result.linesEnd = lines.linesEnd
            result.heldBack = lines.heldBack
            result.readError = lines.error
        }
    }

    /// Counts every line of `chunk`, and the lines dropped as too long where they stood.
    ///
    /// A method of its own, with no closure capturing `result`: a captured variable would be
    /// checked for exclusive access at run time on every line.
    private mutating func processLines<Parser: LineParsing>(
        of chunk: UnsafeRawBufferPointer, droppedAt dropped: [Int],
        parser: inout Parser, chain: ForwardedChain?, result: inout ChunkResult
    ) {
        // Lines ending in CR LF are common; a CR inside a line is not, so one scan of the
        // chunk decides whether lines need splitting at lone CRs (old Mac line ends).
        let hasCR = chunk.count > 0 && memchr(chunk.baseAddress!, 0x0D, chunk.count) != nil
        // Lines the chunker dropped as too long are counted where they stood, so that the
        // line numbers of samples after them stay right.
        var nextDropped = 0
        var start = 0
        while start < chunk.count {
            while nextDropped < dropped.count, dropped[nextDropped] <= start {
                countOverlong(1, in: &result)
                nextDropped += 1
            }
            // The chunker guarantees every line ends in "\n".
            let end = Self.nextNewline(in: chunk, from: start)
            let line = UnsafeRawBufferPointer(rebasing: chunk[start..<end])
            if end - start > maxLineLength {
                // Read whole from a range, where the chunker would have dropped it.
                countOverlong(1, in: &result)
            } else if hasCR {
                // A final CR (of CR LF) is dropped; every other CR ends a line of its own.
                var body = line
                if body.last == 0x0D { body = UnsafeRawBufferPointer(rebasing: body.dropLast()) }
                var pieceStart = 0
                while let cr = body[pieceStart...].firstIndex(of: 0x0D) {
                    handle(UnsafeRawBufferPointer(rebasing: body[pieceStart..<cr]), parser: &parser, chain: chain, result: &result)
                    pieceStart = cr + 1
                }
                handle(UnsafeRawBufferPointer(rebasing: body[pieceStart...]), parser: &parser, chain: chain, result: &result)
            } else {
                handle(line, parser: &parser, chain: chain, result: &result)
            }
            start = end + 1
        }
        countOverlong(dropped.count - nextDropped, in: &result)
    }

    /// Counts `count` lines dropped as longer than `maxLineLength` (no sample: they were not read whole).
    private func countOverlong(_ count: Int, in result: inout ChunkResult) {
        guard count > 0 else { return }
        result.lines += UInt64(count)
        result.malformed[MalformedReason.tooLong.index] += UInt64(count)
    }

    /// Counts one line: parsed into the tally, or malformed under its reason (with a sample).
    @inline(__always)
    private mutating func handle<Parser: LineParsing>(
        _ rawLine: UnsafeRawBufferPointer, parser: inout Parser, chain: ForwardedChain?, result: inout ChunkResult
    ) {
        let line = ByteOrderMark.dropped(from: rawLine)
        switch parser.parse(line) {
        case .parsed(let fields):
            result.lines += 1
            record(fields, in: line, chain: chain, result: &result)
            result.parsed += 1
        case .malformed(let reason):
            if reason == .badClient, readsChainLines, let fields = asChainLine(line) {
                result.lines += 1
                record(fields.fields, in: line, chain: fields.chain, result: &result)
                result.parsed += 1
                return
            }
            result.lines += 1
            result.malformed[reason.index] += 1
            if result.samples.count < MalformedReason.allCases.count * RunAccounting.samplesPerReason,
                result.samples.lazy.filter({ $0.reason == reason }).count < RunAccounting.samplesPerReason
            {
                // Numbered by its place in the chunk, directive lines included.
                result.samples.append((reason, result.lines + result.directives, Array(line.prefix(RunAccounting.sampleLength))))
            }
        case .directive:
            result.directives += 1
        }
    }

    /// `line` read as `xff_combined` when its client field is an address chain (`a, b`).
    @inline(never)
    private mutating func asChainLine(_ line: UnsafeRawBufferPointer) -> (fields: ParsedLine, chain: ForwardedChain)? {
        let token = line.firstIndex(of: UInt8(ascii: " ")) ?? line.count
        guard token > 0, token < line.count, line[token - 1] == UInt8(ascii: ",") else { return nil }
        if chainLines == nil, case .template(let parser) = LineFormat.xffCombined.parser(headers: headers) {
            chainLines = (parser, ForwardedChain(trusted: trusted))
        }
        guard var reading = chainLines else { return nil }
        defer { chainLines = reading }
        guard case .parsed(let fields) = reading.parser.parse(line) else { return nil }
        return (fields, reading.chain)
    }

    @inline(__always)
    private mutating func record(_ fields: ParsedLine, in line: UnsafeRawBufferPointer, chain: ForwardedChain?, result: inout ChunkResult) {
        // An address, else one with its port (`1.2.3.4:5678`, `[2001:db8::1]:443`), as JSON logs write it.
        let connecting = fields.client.flatMap { range in
            let text = UnsafeRawBufferPointer(rebasing: line[range])
            return IPAddress(parsing: text) ?? ForwardedChain.address(text)
        }
        // The connecting address says whether this request came through a proxy or a CDN.
        let viaProxy = connecting.map { proxyLike.contains($0) } ?? false
        if viaProxy { result.clients.behindProxy += 1 }
        var client = connecting
        var source = ClientSource.connecting
        // The walk stopped at an untrusted entry, which (trusted being the proxy-like set) is no proxy.
        var clientIsNoProxy = false
        if let chain {
            let walked = chain.walk(
                chain: fields.forwarded.map { UnsafeRawBufferPointer(rebasing: line[$0]) },
                connecting: connecting, connectingLogged: fields.client != nil,
                connectingTrusted: trustedIsProxyLike ? viaProxy : nil)
            (client, source) = (walked.client, walked.source)
            clientIsNoProxy = trustedIsProxyLike && walked.stoppedUntrusted
            // The header was there but its bearer is not trusted: a proxy of the user's own that
            // --trusted-proxy does not name, or a visitor sending the header directly.
            if source == .connecting, fields.forwarded != nil, let connecting, !viaProxy {
                result.clients.headerFromUntrusted += 1
                if result.clients.untrustedExample == nil { result.clients.untrustedExample = connecting }
            }
        } else if fields.client == nil {
            source = .none
        }
        result.clients.count(source)
        let country: CountryCode
        // A country header is the CDN's word only when the request came from a trusted proxy
        // (or the format logs no connecting address): a visitor who reaches the server
        // directly can send any header.
        if let hint = fields.countryHint, fields.client == nil || (connecting.map { countryTrusted.contains($0) } ?? false),
            let stated = CountryCode(assigned: UnsafeRawBufferPointer(rebasing: line[hint]))
        {
            country = stated
            result.clients.countryHeader += 1
        } else {
            country = client.map { resolver.country(for: $0) } ?? .unknown
            // With --real-ip or --country-from, a client still at a proxy means they did not help.
            if resolvesProxies, let client, source == .connecting ? viaProxy : !clientIsNoProxy && proxyLike.contains(client) {
                result.clients.stillBehindProxy += 1
            }
        }
        if fields.truncated { result.clients.truncated += 1 }
        if fields.timeWithoutZone { result.clients.timesWithoutZone += 1 }
        let host = fields.host.map { UnsafeRawBufferPointer(rebasing: line[$0]) }
        var section = 0
        if !sectionPrefixes.isEmpty, let path = fields.path {
            section = matchSection(UnsafeRawBufferPointer(rebasing: line[path]))
        }
        var site = sites.index(host: host, section: section)
        if site == nil {
            // The site table is full: hand on this part of the chunk and start afresh.
            result.tallies.append(drainTally())
            sites.reset()
            site = sites.index(host: host, section: section)
        }
        guard let site else { preconditionFailure("an empty site table has room for one site") }
        let entry = tally.add(PackedKey(minute: fields.minute, site: site, country: country), status: fields.status, bytes: fields.bytes)
        if let client { clientCounter.add(entry: entry, client: ClientTally.identity(high: client.high, low: client.low)) }
    }

    /// The buckets counted since the last drain, with their clients, and empties the tallies.
    private mutating func drainTally() -> (
        siteNames: [String], entries: [(key: PackedKey, counts: BucketTable.Counts)], clients: [ClientTally]
    ) {
        let entries = tally.drain()
        return (sites.names, entries, clientCounter.drain(entryCount: entries.count))
    }

    /// The 1-based index of the longest `--section` prefix that `path` starts with, or 0.
    private func matchSection(_ path: UnsafeRawBufferPointer) -> Int {
        var best = 0, bestLength = -1
        for (index, prefix) in sectionPrefixes.enumerated()
        where prefix.count > bestLength && path.starts(with: prefix) {
            best = index + 1
            bestLength = prefix.count
        }
        return best
    }

    @inline(__always)
    private static func nextNewline(in chunk: UnsafeRawBufferPointer, from start: Int) -> Int {
        // memchr is vectorised by libc; the chunk's last byte is "\n", so it always finds one.
        let base = chunk.baseAddress!
        let found = memchr(base + start, 0x0A, chunk.count - start)!
        return base.distance(to: UnsafeRawPointer(found))
    }
}

/// Where the clients of parsed lines came from (`"clients"` in the summary), with the other
/// per-line counts that are not malformed reasons.
public struct ClientCounts: Sendable, Equatable {
    /// Requests by `ClientSource`: connecting address, forwarded chain, none.
    var connecting: UInt64 = 0, forwarded: UInt64 = 0, none: UInt64 = 0
    /// Requests whose country came from the `--country-from` header.
    public var countryHeader: UInt64 = 0
    /// Requests whose connecting address is private or in an embedded CDN's ranges.
    public var behindProxy: UInt64 = 0
    /// Requests counted from lines cut inside their last quoted field.
    public var truncated: UInt64 = 0
    /// With `--real-ip` or `--country-from`: requests whose client is still a private address
    /// or a CDN edge, and whose country did not come from the header.
    public var stillBehindProxy: UInt64 = 0
    /// Requests whose time gave no offset from UTC (read as UTC).
    public var timesWithoutZone: UInt64 = 0
    /// With `--real-ip`: requests that carried the header but came from a public address that
    /// is not a trusted proxy, so the header was not believed; and the first such address.
    public var headerFromUntrusted: UInt64 = 0
    public var untrustedExample: IPAddress?

    public init() {}

    public subscript(source: ClientSource) -> UInt64 {
        switch source {
        case .connecting: connecting
        case .forwarded: forwarded
        case .none: none
        }
    }

    @inline(__always)
    mutating func count(_ source: ClientSource) {
        switch source {
        case .connecting: connecting += 1
        case .forwarded: forwarded += 1
        case .none: none += 1
        }
    }

    mutating func add(_ other: ClientCounts) {
        connecting += other.connecting
        forwarded += other.forwarded
        none += other.none
        countryHeader += other.countryHeader
        behindProxy += other.behindProxy
        truncated += other.truncated
        stillBehindProxy += other.stillBehindProxy
        timesWithoutZone += other.timesWithoutZone
        headerFromUntrusted += other.headerFromUntrusted
        untrustedExample = untrustedExample ?? other.untrustedExample
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
