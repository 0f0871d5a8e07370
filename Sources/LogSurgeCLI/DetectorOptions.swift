import ArgumentParser
import LogSurge
import LogSurgeGeo
import LogSurgeCore
import LogSurgeDetect

/// The detector options shared by `analyze` and `detect`. Their numbers are read as given
/// (`--surge-ratio -1` is a value that is out of range, not a missing one).
struct DetectorOptions: ParsableArguments {
    @Option(
        name: .customLong("watch-country"),
        help: ArgumentHelp(
            "A country whose traffic is checked for surges (ISO code), or 'all': every country of every site, at the false-alert rate of one; repeatable. Default: US.",
            valueName: "CC"))
    var watchCountries: [String] = []

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Surge: observed/expected ratio over 1 minute (default 3; x2/3 over 3 and 10).", valueName: "RATIO"))
    var surgeRatio: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Surge: ratio sustained over 60 minutes (default 1.8).", valueName: "RATIO"))
    var sustainedSurgeRatio: Double?

    @Option(
        parsing: .unconditional, help: ArgumentHelp("Surge: rise of the country's share of the site (default 1.5).", valueName: "RATIO"))
    var shareRatio: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Surge and drop: requests above (below) the baseline in the window (default 12).", valueName: "N"))
    var minExcess: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Error spike: 5xx share over the baseline share (default 4).", valueName: "RATIO"))
    var errorShareRatio: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Error spike: lowest 5xx share (default 0.03).", valueName: "SHARE"))
    var minErrorShare: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Error spike: fewest 5xx responses in the window (default 4).", valueName: "N"))
    var minErrors: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Surge and drop: how unlikely under the series' own noise the evidence must be (default 1e-7).", valueName: "P"))
    var significance: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Error spike: how unlikely under the baseline share the 5xx count must be (default 1e-5).", valueName: "P"))
    var errorSignificance: Double?

    func validate() throws {
        for code in watchCountries where CountryCode(isoCode: code) == nil && code.lowercased() != "all" {
            throw ValidationError("--watch-country '\(code)' is neither a two-letter country code nor 'all'")
        }
        if Set(watchCountries.map { $0.uppercased() }).subtracting(["ALL"]).count > 16 {
            throw ValidationError(
                "--watch-country: at most 16 countries by name (each keeps a week of history for every site); 'all' checks every country")
        }
        for (name, value) in [
            ("--surge-ratio", surgeRatio), ("--sustained-surge-ratio", sustainedSurgeRatio),
            ("--share-ratio", shareRatio), ("--error-share-ratio", errorShareRatio),
        ] {
            if let value, !(value >= 1 && value < 1e6) { throw ValidationError("\(name) must be at least 1") }
        }
        if let minExcess, !(minExcess >= 0 && minExcess < 1e12) { throw ValidationError("--min-excess must be 0 or more") }
        if let minErrorShare, !(0...1).contains(minErrorShare) { throw ValidationError("--min-error-share must be between 0 and 1") }
        if let minErrors, minErrors < 0 { throw ValidationError("--min-errors must be 0 or more") }
        for (name, value) in [("--significance", significance), ("--error-significance", errorSignificance)] {
            if let value, !(value > 0 && value < 1) { throw ValidationError("\(name) must be between 0 and 1") }
        }
    }

    var configuration: DetectorConfiguration {
        var configuration = DetectorConfiguration()
        if !watchCountries.isEmpty {
            // `all` checks every country by its share of the site; those also named keep a
            // history of their own.
            var seen: [CountryCode] = []
            for code in watchCountries.compactMap(CountryCode.init(isoCode:)) where !seen.contains(code) { seen.append(code) }
            configuration.watchedCountries = seen
            configuration.watchesEveryCountry = watchCountries.contains { $0.lowercased() == "all" }
        }
        if let surgeRatio { configuration.surgeRatio = surgeRatio }
        if let sustainedSurgeRatio { configuration.sustainedSurgeRatio = sustainedSurgeRatio }
        if let shareRatio { configuration.shareRatio = shareRatio }
        if let minExcess { configuration.minimumExcess = minExcess }
        if let errorShareRatio { configuration.errorShareRatio = errorShareRatio }
        if let minErrorShare { configuration.minimumErrorShare = minErrorShare }
        if let minErrors { configuration.minimumErrors = minErrors }
        if let significance { configuration.significance = significance }
        if let errorSignificance { configuration.errorSignificance = errorSignificance }
        return configuration
    }
}
