// The stage benchmark: the rate of each stage of logsurge beside a reference floor timed in the
// same process, so that a regression shows in the stage where it happens. Stage and floor run
// alternately; "× floor" is the stage's time per byte, line or lookup over the floor's, the
// median of the repetitions' ratios (a machine shared with other work slows both alike).
//
//   swift build -c release --product StageBenchmark
//   .build/release/StageBenchmark PLAIN.log FILE.log.gz [--repetitions N] [--parse-megabytes N]
//                                 [--stages inflate,parse,formats,geoip,tables,pipeline,merge,end]
//
// PLAIN.log must hold the same lines as FILE.log.gz (Benchmarks/throughput.sh passes its sample).
//
//   inflate         InputReader on the .gz, chunks counted        floor: InputReader on the plain file
//   parse           AccessLogParser(.combined), lines of the first 200 MB held in memory
//                                                                 floor: counting their newlines (memchr)
//   formats         (or template, realip, json alone) the same lines as a compiled --log-format equal
//                   to combined; as nginx main behind a CDN read with --real-ip (parse, walk the
//                   chain); JSON lines of the generator          floor: AccessLogParser(.combined)
//   GeoIP           MMDBReader (uncached), CountryResolver (cached) and CountryResolver with the
//                   IPv4 table (as the pipeline resolves) over those lines' clients,
//                   embedded database                             floor: Dictionary lookup of the same
//   tables          IPv4CountryTable + IPv6CountryTable built, and decoded from the image embedded
//                   beside the database                           floor: both records of every tree node
//   parse+bucket    AnalysisPipeline, 1 thread, the plain file    floor: parse alone, per line
//   merge           the plain file's chunk tallies (parsed once) merged into buckets
//                                                                 floor: reading those entries
//   end of a run    the file's buckets: sorted rows, bucket CSV, detection
//                                                                 floor: the same rows from an array
//
// The merge is internal to the pipeline: `ChunkMergeBenchmark` (SPI) keeps a file's chunk
// tallies so that it can be timed alone.

import Foundation
@_spi(Benchmarks) import LogSurge
@_spi(Benchmarks) import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect
import LogSurgeGenerate
import LogSurgeReport

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: StageBenchmark PLAIN.log FILE.log.gz [--repetitions N] [--parse-megabytes N]\n".utf8))
    exit(2)
}
let plainPath = arguments[1]
let gzipPath = arguments[2]
func option(_ name: String, default value: Int) -> Int {
    arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? Int(arguments[$0 + 1]) : nil } ?? value
}
let repetitions = max(1, option("--repetitions", default: 5))
let parseBytes = max(1, option("--parse-megabytes", default: 200)) * 1_000_000
/// The stages to time (all by default): a stage being worked on is timed alone in seconds.
let stages = Set(
    (arguments.firstIndex(of: "--stages").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        ?? "inflate,parse,formats,geoip,tables,pipeline,merge,end").split(separator: ",").map(String.init))

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("StageBenchmark: \(message)\n".utf8))
    exit(1)
}

/// Seconds that `body` took.
func seconds(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    let elapsed = start.duration(to: .now).components
    return Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// One table row: a stage and its floor, each with the amount of work (bytes, lines, lookups) it did.
struct Row {
    var stage: String
    var floor: String
    var unit: String
    var stageRate: Double
    var floorRate: Double
    /// Median over repetitions of (stage seconds per unit) / (floor seconds per unit).
    var costOverFloor: Double
}

/// Times `stage` and `floor` alternately, `repetitions` times each; the amounts are the units of
/// work each did (the same every repetition).
func compare(
    _ stage: String, _ stageAmount: Double, floor: String, _ floorAmount: Double, unit: String,
    stageBody: () -> Void, floorBody: () -> Void
) -> Row {
    var stageTimes: [Double] = [], floorTimes: [Double] = [], ratios: [Double] = []
    for repetition in 0..<repetitions {
        // Alternate which goes first, so neither always runs on a cache the other warmed.
        let (s, f) =
            repetition % 2 == 0
            ? (seconds(stageBody), seconds(floorBody))
            : ({
                let f = seconds(floorBody); return (seconds(stageBody), f)
            })()
        stageTimes.append(s)
        floorTimes.append(f)
        ratios.append((s / stageAmount) / (f / floorAmount))
    }
    return Row(
        stage: stage, floor: floor, unit: unit, stageRate: stageAmount / median(stageTimes),
        floorRate: floorAmount / median(floorTimes), costOverFloor: median(ratios))
}

/// Calls `body` with each line of `buffer` (see `Lines`).
func forEachLine(_ buffer: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
    Lines.forEach(buffer, body)
}

/// Bytes of `path` as InputReader hands them on, counted; fails on an input error.
func readThrough(_ path: String) -> Int {
    var bytes = 0
    let (_, error) = InputReader().read(.file(path)) { chunk in bytes += chunk.bytes.count }
    if let error { fail("\(error)") }
    return bytes
}

// MARK: - inflate

let plainSize = readThrough(plainPath)
guard readThrough(gzipPath) == plainSize else { fail("\(gzipPath) does not inflate to the size of \(plainPath)") }
var rows: [Row] = []
if stages.contains("inflate") {
    rows.append(
        compare(
            "inflate: InputReader, .gz", Double(plainSize), floor: "InputReader, plain file", Double(plainSize), unit: "MB/s",
            stageBody: { _ = readThrough(gzipPath) }, floorBody: { _ = readThrough(plainPath) }))
}

// MARK: - parse

guard let handle = FileHandle(forReadingAtPath: plainPath) else { fail("cannot open \(plainPath)") }
var buffer = [UInt8](handle.readData(ofLength: parseBytes))
try? handle.close()
guard let lastNewline = buffer.lastIndex(of: 0x0A) else { fail("\(plainPath) holds no complete line") }
buffer.removeSubrange((lastNewline + 1)...)

/// The buffer's lines, those that parse, and the client addresses of those.
let (bufferLines, parsedLines, clients) = buffer.withUnsafeBytes { bytes in
    var parser = AccessLogParser(format: .combined)
    var lines = 0, parsed = 0
    var addresses: [IPAddress] = []
    forEachLine(bytes) { line in
        lines += 1
        guard case .parsed(let fields) = parser.parse(line) else { return }
        parsed += 1
        if let client = fields.client, let address = IPAddress(parsing: UnsafeRawBufferPointer(rebasing: line[client])) {
            addresses.append(address)
        }
    }
    return (lines, parsed, addresses)
}
/// Parses every line of `bytes` (the buffer); fails unless as many parse as the first time.
func parseAll(_ bytes: UnsafeRawBufferPointer) {
    var parser = AccessLogParser(format: .combined)
    if Lines.parsed(bytes, with: &parser) != parsedLines { fail("parse counts differ between repetitions") }
}
if stages.contains("parse") {
    rows.append(
        buffer.withUnsafeBytes { bytes in
            compare(
                "parse: AccessLogParser, combined", Double(bufferLines), floor: "newline count (memchr)", Double(bufferLines),
                unit: "M lines/s",
                stageBody: { parseAll(bytes) },
                floorBody: {
                    if Lines.count(bytes) != bufferLines { fail("line counts differ between repetitions") }
                })
        })
}

// MARK: - formats

// The same lines through the other readers: a compiled `--log-format` equal to combined, nginx
// `main` behind a CDN read with `--real-ip` (parse, then walk the chain), and JSON lines, each
// beside the built-in combined parser on the combined lines (per line; JSON per byte).
let formatRows = stages.contains("formats") ? Set(["template", "realip", "json"]) : stages
if !formatRows.isDisjoint(with: ["template", "realip", "json"]) {
    let apacheCombined = #"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""#
    guard case .template(let template) = try LineFormat.compile(apacheCombined).body else { fail("the combined string does not compile") }
    func builtInFloor(_ bytes: UnsafeRawBufferPointer) { parseAll(bytes) }
    if formatRows.contains("template") {
        rows.append(
            buffer.withUnsafeBytes { bytes in
                compare(
                    "parse: --log-format equal to combined (template)", Double(bufferLines), floor: "AccessLogParser, combined",
                    Double(bufferLines), unit: "M lines/s",
                    stageBody: {
                        var parser = TemplateParser(template: template)
                        let parsed = Lines.parsed(bytes, with: &parser)
                        if parsed != parsedLines {
                            fail("the compiled combined string parsed \(parsed) lines, the built-in parser \(parsedLines)")
                        }
                    },
                    floorBody: { builtInFloor(bytes) })
            })
    }
    if formatRows.contains("realip") {
        // The same requests as nginx `main` behind Cloudflare: an edge connects, the visitor is in X-Forwarded-For.
        var main: [UInt8] = []
        main.reserveCapacity(buffer.count + buffer.count / 4)
        var mainLines = 0
        buffer.withUnsafeBytes { bytes in
            var parser = AccessLogParser(format: .combined)
            forEachLine(bytes) { line in
                guard case .parsed(let fields) = parser.parse(line), let client = fields.client else { return }
                main += Array("162.158.\(mainLines % 200).\(mainLines % 250 + 1)".utf8)
                main += line[client.upperBound...]
                main += Array(" \"".utf8) + line[client] + Array("\"\n".utf8)
                mainLines += 1
            }
        }
        let roles = HeaderRoles(forwarded: HeaderName("X-Forwarded-For"))
        let chain = ForwardedChain(trusted: TrustedProxies.proxyLike)
        rows.append(
            main.withUnsafeBytes { mainBytes in
                buffer.withUnsafeBytes { bytes in
                    compare(
                        "parse: nginx main, --real-ip X-Forwarded-For (the chain kept)", Double(mainLines),
                        floor: "AccessLogParser, combined", Double(bufferLines), unit: "M lines/s",
                        stageBody: {
                            guard case .template(var parser) = LineFormat.main.parser(headers: roles) else { fail("main is a template") }
                            if Lines.parsed(mainBytes, with: &parser) != mainLines { fail("not every main line parsed") }
                        },
                        floorBody: { builtInFloor(bytes) })
                }
            })
        let addresses = buffer.withUnsafeBytes { bytes in
            var parser = AccessLogParser(format: .combined)
            return Lines.clientAddresses(bytes, with: &parser)
        }
        rows.append(
            main.withUnsafeBytes { mainBytes in
                buffer.withUnsafeBytes { bytes in
                    compare(
                        "client: nginx main behind a CDN, --real-ip (parse, walk the chain)", Double(mainLines),
                        floor: "combined: parse, the client's address", Double(bufferLines), unit: "M lines/s",
                        stageBody: {
                            guard case .template(var parser) = LineFormat.main.parser(headers: roles) else { fail("main is a template") }
                            let forwarded = Lines.forwardedClients(mainBytes, with: &parser, chain: chain)
                            if forwarded != mainLines { fail("\(forwarded) of \(mainLines) main lines had their client from the chain") }
                        },
                        floorBody: {
                            var parser = AccessLogParser(format: .combined)
                            if Lines.clientAddresses(bytes, with: &parser) != addresses {
                                fail("client addresses differ between repetitions")
                            }
                        })
                }
            })
    }
    if formatRows.contains("json") {
        // JSON lines of the generator's nginx template, as many bytes as the combined buffer.
        let json = Lines.generated(.formatString(GeneratedLayout.jsonTemplate), bytes: buffer.count)
        let jsonLines = json.withUnsafeBytes { Lines.count($0) }
        let jsonFormat = LineFormat.named("json")!
        rows.append(
            json.withUnsafeBytes { jsonBytes in
                buffer.withUnsafeBytes { bytes in
                    compare(
                        "parse: json (nginx escape=json template lines)", Double(json.count), floor: "AccessLogParser, combined",
                        Double(buffer.count), unit: "MB/s",
                        stageBody: {
                            guard case .json(var parser) = jsonFormat.parser() else { fail("json is JSON") }
                            let parsed = Lines.parsed(jsonBytes, with: &parser)
                            if parsed != jsonLines { fail("\(parsed) of \(jsonLines) JSON lines parsed") }
                        },
                        floorBody: { builtInFloor(bytes) })
                }
            })
    }
}

// MARK: - GeoIP

let database: MMDBReader
do { database = try EmbeddedCountryDatabase.open() } catch { fail("embedded database: \(error)") }
let known = Dictionary(clients.map { ($0, (try? database.country(for: $0)) ?? .unknown) }, uniquingKeysWith: { first, _ in first })
let withCountry = clients.reduce(0) { $0 + (known[$1]!.isKnown ? 1 : 0) }

/// Counts the lookups that found a country, so none of them can be optimised away.
func countKnown(_ lookup: (IPAddress) -> CountryCode) -> Int {
    var found = 0
    for address in clients where lookup(address).isKnown { found += 1 }
    return found
}
func dictionaryFloor() {
    if countKnown({ known[$0]! }) != withCountry { fail("dictionary lookups disagree") }
}
var cacheHits = 0
if stages.contains("geoip") {
    rows.append(
        compare(
            "GeoIP uncached: MMDBReader", Double(clients.count), floor: "Dictionary lookup", Double(clients.count),
            unit: "M lookups/s",
            stageBody: {
                if countKnown({ (try? database.country(for: $0)) ?? .unknown }) != withCountry { fail("MMDB lookups disagree") }
            },
            floorBody: dictionaryFloor))
    rows.append(
        compare(
            "GeoIP cached: CountryResolver", Double(clients.count), floor: "Dictionary lookup", Double(clients.count),
            unit: "M lookups/s",
            stageBody: {
                // A fresh cache each time, as a worker starts with one.
                var resolver = CountryResolver(reader: database)
                if countKnown({ resolver.country(for: $0) }) != withCountry { fail("cached lookups disagree") }
                cacheHits = resolver.cacheHits
            },
            floorBody: dictionaryFloor))
}

// Building the tables, which a run does on a thread of its own while its first chunks are
// parsed: over the tree's node count, beside reading every node's two records in order.
let nodes = Double(database.treeNodeCount)
/// Keeps a result alive, so the optimiser cannot drop the work that made it.
@inline(never) func keep(_ value: Int) { if value == 0x5EED_5EED { print("") } }
if stages.contains("tables") {
    rows.append(
        compare(
            "country tables: IPv4 + IPv6 built from the tree", nodes, floor: "both records of every node, in order", nodes,
            unit: "M nodes/s",
            stageBody: {
                guard IPv4CountryTable(reader: database) != nil, IPv6CountryTable(reader: database) != nil else {
                    fail("the embedded database gave no country table")
                }
            },
            floorBody: {
                keep(database.sumOfRecords())
            }))
    // What a run does instead with the embedded database: decode the tables shipped with it.
    rows.append(
        compare(
            "country tables: decoded from the image embedded beside the database", nodes,
            floor: "both records of every node, in order", nodes, unit: "M nodes/s",
            stageBody: {
                let image = EmbeddedCountryDatabase.tableImage
                guard let identity = EmbeddedCountryDatabase.identity,
                    CountryTableImage.decode(image, database: identity) != nil
                else {
                    fail("the embedded table image does not decode")
                }
            },
            floorBody: {
                keep(database.sumOfRecords())
            }))
}
let ipv4Table = IPv4CountryTable(reader: database)
let ipv6Table = IPv6CountryTable(reader: database)
if stages.contains("geoip") {
    rows.append(
        compare(
            "GeoIP as the pipeline does: CountryResolver + IPv4/IPv6 tables", Double(clients.count), floor: "Dictionary lookup",
            Double(clients.count), unit: "M lookups/s",
            stageBody: {
                var resolver = CountryResolver(reader: database, ipv4Table: ipv4Table, ipv6Table: ipv6Table)
                if countKnown({ resolver.country(for: $0) }) != withCountry { fail("table lookups disagree") }
            },
            floorBody: dictionaryFloor))
}

// MARK: - parse+bucket

var configuration = AnalyzeConfiguration(database: database, threads: 1)
configuration.lines.format = .fixed(LineFormat(.combined))
let pipeline = AnalysisPipeline(configuration: configuration)
let first = pipeline.run(paths: [plainPath])
if let error = first.inputErrors.first { fail("\(error)") }
let fileLines = first.accounting.lines
var buckets = first.buckets.count
if stages.contains("pipeline") {
    rows.append(
        buffer.withUnsafeBytes { bytes in
            compare(
                "parse+bucket: AnalysisPipeline, 1 thread, plain file", Double(fileLines), floor: "parse alone (in memory)",
                Double(bufferLines), unit: "M lines/s",
                stageBody: {
                    let analysis = pipeline.run(paths: [plainPath])
                    if analysis.accounting.lines != fileLines { fail("pipeline line counts differ between repetitions") }
                    buckets = analysis.buckets.count
                },
                floorBody: { parseAll(bytes) })
        })
}

// MARK: - merge

// Each chunk's tally folded into the run's buckets in chunk order (spilling past 131,072
// buckets), which the pipeline does as chunks come back, timed without the parse around it.
var mergeEntries = 0
if stages.contains("merge") {
    guard let merging = ChunkMergeBenchmark(path: plainPath, configuration: configuration) else { fail("\(plainPath) is not a plain file") }
    rows.append(
        compare(
            "merge: chunk tallies into the run's buckets, spills included", Double(merging.entries),
            floor: "reading the same tally entries", Double(merging.entries), unit: "M entries/s",
            stageBody: { keep(merging.merge()) },
            floorBody: { keep(merging.readEntries()) }))
    mergeEntries = merging.entries
}

// MARK: - end of a run

// What a run does once the last chunk is merged, over the buckets of the whole file (spilled
// runs included, as a run has them): the bucket CSV and the detectors, each beside the same
// rows taken out of an array (the floor any reader of every bucket pays).
let finished = first.buckets
if stages.contains("end") {
    let rowCount = Double(finished.count)
    let rowArray = Array(finished.sortedRows())
    func rowsFloor() {
        var requests = 0
        for row in rowArray { requests &+= Int(row.counts.requests) }
        keep(requests)
    }
    guard let devNull = try? OutputSink(path: "/dev/null", atomically: false) else { fail("cannot open /dev/null") }
    rows.append(
        compare(
            "rows: MinuteBuckets.sortedRows (memory + spilled runs)", rowCount, floor: "the rows from an array", rowCount,
            unit: "M rows/s",
            stageBody: {
                var requests = 0
                for row in finished.sortedRows() { requests &+= Int(row.counts.requests) }
                keep(requests)
            },
            floorBody: rowsFloor))
    rows.append(
        compare(
            "bucket CSV: BucketFile to /dev/null", rowCount, floor: "the rows from an array", rowCount,
            unit: "M rows/s",
            stageBody: {
                do { try BucketFile.write(finished.sortedRows(), format: .csv, to: devNull) } catch { fail("\(error)") }
            },
            floorBody: rowsFloor))
    rows.append(
        compare(
            "detection: a DetectionRun over the buckets", rowCount, floor: "the rows from an array", rowCount,
            unit: "M rows/s",
            stageBody: { keep(DetectionRun(DetectionPolicy()).run(finished).events.count) },
            floorBody: rowsFloor))
}

// MARK: - report

func rate(_ value: Double, _ unit: String) -> String {
    String(format: unit == "MB/s" ? "%.0f" : "%.2f", value / 1e6) + " " + unit
}
func percent(_ part: Int, of whole: Int) -> String { String(format: "%.1f%%", 100 * Double(part) / Double(max(1, whole))) }
print(
    "stage rates, medians of \(repetitions) alternating repetitions; × floor: the stage's time per unit over its floor's (lower is better)")
print()
print("| stage | rate | floor | floor rate | × floor |")
print("|---|---|---|---|---|")
for row in rows {
    print(
        "| \(row.stage) | \(rate(row.stageRate, row.unit)) | \(row.floor) | \(rate(row.floorRate, row.unit)) | \(String(format: "%.2f", row.costOverFloor)) |"
    )
}
print()
print(
    "in memory: \(bufferLines) lines (\(buffer.count / 1_000_000) MB), \(parsedLines) parsed, \(clients.count) client addresses, "
        + "\(percent(withCountry, of: clients.count)) with a country"
        + (stages.contains("geoip") ? ", cache hit rate \(percent(cacheHits, of: clients.count)); " : "; ")
        + "plain file: \(fileLines) lines, \(plainSize / 1_000_000) MB, \(buckets) buckets"
        + (stages.contains("merge") ? ", \(mergeEntries) chunk tally entries" : ""))
