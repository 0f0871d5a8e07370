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

    func run() throws {
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
            while let line = readLine(strippingNewline: true) {
                if line.isEmpty { continue }
                try lookUp(line)
                if addresses.isEmpty && out.isTerminal { try out.flush() }
            }
        } else {
            for address in addresses { try lookUp(address) }
        }
        try out.close()
        if anyInvalid { throw ExitCode(ExitStatus.inputIncomplete) }
    }
}

/// Opens `path` or the embedded database; an unreadable database is a usage error (status 2).
func openDatabase(_ path: String?) throws -> MMDBReader {
    do {
        if let path { return try MMDBReader(path: path) }
        return try EmbeddedCountryDatabase.open()
    } catch {
        throw UsageError(description: "cannot use GeoIP database: \(error)")
    }
}
