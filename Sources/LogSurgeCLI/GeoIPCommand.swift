import ArgumentParser
import Foundation
import LogSurge
import LogSurgeGeo

struct GeoIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "geoip",
        abstract: "Look up the country of IP addresses, one per line.",
        discussion: """
        Prints `IP<TAB>CC` for each address given, or for each line of standard input when none \
        is given. CC is `--` when the database has no country for the address, `invalid` when the \
        text is not an IPv4 or IPv6 address (the exit status is then 1). Use it to check answers \
        against other readers, e.g. `mmdblookup`.

        Examples:
          logsurge geoip 8.8.8.8 2001:4860:4860::8888 ::ffff:81.2.69.160
          cut -d' ' -f1 access.log | sort -u | logsurge geoip --db GeoLite2-Country.mmdb
        """
    )

    @Option(name: .long, help: ArgumentHelp("A MaxMind DB (.mmdb) country database; the embedded one by default.", valueName: "FILE"))
    var db: String?

    @Argument(help: "Addresses to look up; standard input when none.")
    var addresses: [String] = []

    /// For whoever regenerates the embedded database (Scripts/GEOIP.md): writes its country
    /// tables as the image embedded beside it, and the stamp that makes the build re-embed it.
    @Option(name: .customLong("write-tables"), help: .hidden)
    var tablesImage: String?

    func run() throws {
        if let tablesImage {
            try writeTables(to: tablesImage)
            return
        }
        let reader = try openDatabase(db)
        let out = OutputSink.standardOutput()
        var anyInvalid = false
        func lookUp(_ text: String) throws {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let address = IPAddress(trimmed) else {
                anyInvalid = true
                try out.write("\(Escaping.terminal(trimmed))\tinvalid\n")
                return
            }
            let country: CountryCode
            do { country = try reader.country(for: address) } catch {
                warn("\(trimmed): \(error)")
                country = .unknown
            }
            try out.write("\(trimmed)\t\(country)\n")
        }
        if addresses.isEmpty {
            try Self.forEachLine(of: STDIN_FILENO, limit: Self.longestLine) { line, cut in
                if line.isEmpty { return }
                if cut {
                    // No address is this long: said without holding the line.
                    anyInvalid = true
                    try out.write("\(Escaping.terminal(String(decoding: line.prefix(64), as: UTF8.self)))…\tinvalid\n")
                } else {
                    try lookUp(String(decoding: line, as: UTF8.self))
                }
                if out.isTerminal { try out.flush() }
            }
        } else {
            for address in addresses { try lookUp(address) }
        }
        try out.close()
        if anyInvalid { throw ExitCode(ExitStatus.inputIncomplete) }
    }
}

extension GeoIPCommand {
    /// Bytes of a line of standard input that may hold an address (with spaces around it); a
    /// longer line is invalid and is not held in memory.
    static let longestLine = 1024

    /// Calls `body` with each line of `descriptor` (without its newline, a CR before it
    /// dropped) and whether it was cut: a line longer than `limit` bytes is given as its first
    /// `limit` bytes, the rest read past without being kept. Memory stays within `limit` and
    /// one read buffer whatever the input holds.
    static func forEachLine(of descriptor: Int32, limit: Int, _ body: ([UInt8], Bool) throws -> Void) throws {
        var line: [UInt8] = []
        var cut = false
        var block = [UInt8](repeating: 0, count: 64 << 10)
        func end() throws {
            if line.last == 0x0D { line.removeLast() }
            try body(line, cut)
            line.removeAll(keepingCapacity: true)
            cut = false
        }
        while true {
            let count = block.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw UsageError(description: "cannot read standard input: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            var start = 0
            while start < count {
                let newline = block[start..<count].firstIndex(of: 0x0A)
                let piece = block[start..<(newline ?? count)]
                let room = limit - line.count
                if piece.count > room {
                    line += piece.prefix(max(0, room))
                    cut = true
                } else if !cut {
                    line += piece
                }
                guard let newline else { break }
                try end()
                start = newline + 1
            }
        }
        if !line.isEmpty || cut { try end() }
    }

    /// Writes the embedded database's country tables, built from its tree, to `path`, and
    /// `country_tables_stamp.h` beside it.
    func writeTables(to path: String) throws {
        guard db == nil, addresses.isEmpty else {
            throw UsageError(description: "--write-tables writes the embedded database's tables: give no --db and no address")
        }
        let reader = try openDatabase(nil)
        guard let ipv4 = IPv4CountryTable(reader: reader) else {
            throw UsageError(description: "the embedded database gives no IPv4 table")
        }
        let ipv6 = IPv6CountryTable(reader: reader)
        guard let database = EmbeddedCountryDatabase.identity else {
            throw UsageError(description: "the embedded database has no metadata")
        }
        let image = CountryTableImage.encode(ipv4: ipv4, ipv6: ipv6, database: database)
        let stamp = """
            // Generated by `logsurge geoip --write-tables`: identifies country-tables.bin so that
            // regenerating it rebuilds embed.c. Do not edit.
            #define LOGSURGE_COUNTRY_TABLES_DATABASE_SHA256 "\(EmbeddedCountryDatabase.sha256)"
            #define LOGSURGE_COUNTRY_TABLES_SIZE \(image.count)UL

            """
        let stampPath = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("country_tables_stamp.h").path
        for (file, bytes) in [(path, image), (stampPath, Array(stamp.utf8))] {
            let sink = try OutputSink(path: file)
            try sink.write(bytes: bytes)
            try sink.close()
        }
        print("\(path): \(image.count) bytes, \(ipv4.rangeCount) IPv4 and \(ipv6?.rangeCount ?? 0) IPv6 ranges; \(stampPath)")
    }
}

/// Opens `path` or the embedded database; an unreadable database is a usage error (status 2).
/// A database without country data (an ASN or ISP database) is refused the same way: it would
/// put every request under `--` without a word.
func openDatabase(_ path: String?) throws -> MMDBReader {
    let reader: MMDBReader
    do {
        guard let path else { return try EmbeddedCountryDatabase.open() }
        reader = try MMDBReader(path: path)
    } catch {
        throw UsageError(description: "cannot use GeoIP database: \(error)")
    }
    guard reader.hasCountryData() else {
        throw UsageError(description: "cannot use GeoIP database: \(path!): it holds no country data (database type '\(reader.metadata.databaseType)'): give a country or city database, such as GeoLite2-Country or GeoLite2-City")
    }
    return reader
}
