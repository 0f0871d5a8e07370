import LogSurgeCore

/// Thresholds of the surge and error-spike detectors.
///
/// The defaults work without tuning on a site's own history: every threshold is relative to a
/// baseline learnt from the data, and the absolute floors only keep noise at very low volume
/// from raising alerts.
public struct DetectorConfiguration: Sendable, Equatable {
    /// Countries whose traffic is checked for surges. By default, US.
    public var watchedCountries: [CountryCode] = [CountryCode(isoCode: "US")!]
    /// `--watch-country all`: every other country of every site is checked too, each against
    /// its share of the site's baseline (`HourSums`, a few hundred bytes a country where
    /// a watched country's own history takes up to 100 KB). By default, false.
    public var watchesEveryCountry = false
    /// Countries checked at most across all sites when `watchesEveryCountry` (beyond, the
    /// ones seen later are not checked): a bound on memory that every country of the busiest
    /// 100 sites fits within (about 4 KB a country with traffic, 1 KB one seen once). By
    /// default, 25,600.
    public var maximumCountryTracks = 25_600

    /// A surge needs its observed/expected ratio at least this high over one step; over 3 and
    /// 10 steps, whose evidence is steadier, 3/4 and 2/3 of it (never below
    /// `sustainedSurgeRatio`). By default, 3.
    public var surgeRatio: Double = 3
    /// Over the long test window (60 steps) a smaller sustained rise suffices. By default, 1.8.
    public var sustainedSurgeRatio: Double = 1.8
    /// The watched country's share of the site must rise by at least this factor too, so that a
    /// rise in every country does not read as a surge of one; less for a country with much of
    /// the site's traffic (1 + (ratio − 1) × the rest's share: 1.19 at 62 %). By default, 1.5.
    public var shareRatio: Double = 1.5
    /// A surge needs at least this many requests above the baseline in its window, a drop this
    /// many below. By default, 12.
    public var minimumExcess: Double = 12
    /// A surge is a crowd: at least this many more distinct clients a step than the requests
    /// would bring at the clients' usual requests per step (so that a crawler, a scanner or a few
    /// of them, or one CDN edge, never raises one). Checked when the buckets count clients.
    /// By default, 3.
    public var minimumCrowd: Double = 3
    /// How unlikely the observed count of a surge or a drop must be, under the baseline and the
    /// noise the series has shown (a negative binomial, `SeriesNoise`). By default, 1e-7.
    public var significance: Double = 1e-7
    /// A drop: a site's requests over 3, 10 or 60 steps at most this share of the expected.
    /// By default, 0.5.
    public var dropRatio: Double = 0.5
    /// An open episode ends once the 10-step ratio stays below this for `closeSteps` steps. By default, 1.5.
    public var closeRatio: Double = 1.5
    /// Quiet steps that end an episode. By default, 10.
    public var closeSteps: Int = 10

    /// An error spike needs the 5xx share at least this many times the baseline share. By default, 4.
    public var errorShareRatio: Double = 4
    /// … and at least this share. By default, 0.03 (3%).
    public var minimumErrorShare: Double = 0.03
    /// … and at least this many 5xx responses in its window. By default, 4.
    public var minimumErrors: Int = 4
    /// … and a binomial tail, under the baseline share, below this. By default, 1e-5: errors are
    /// rarer than requests, so a spike on a small site has less evidence to offer.
    public var errorSignificance: Double = 1e-5
    /// The baseline 5xx share is never taken below this. By default, 0.002.
    public var errorShareFloor: Double = 0.002

    /// Sites checked at most: over per-minute buckets the busiest ones, as a stream goes the
    /// first ones seen; each costs up to about 200 KB of history. By default, 100.
    public var maximumSites: Int = 100

    /// Steps of history before any alert can be raised. By default, 30.
    public var warmUpSteps: Int = 30

    public init() {}

    /// The countries checked for surges, as the reports say it: `US`, `every country`, or
    /// `every country (US with a history of its own)`.
    public var watchedDescription: String {
        let named = watchedCountries.map(\.description).joined(separator: ", ")
        guard watchesEveryCountry else { return named }
        let own = watchedCountries.count == 1 ? "its" : "their"
        return named.isEmpty ? "every country" : "every country (\(named) with a history of \(own) own)"
    }

    /// Every setting, named, as text: what a detectors' snapshot was made with, and must be
    /// restored with. Written out (not `String(describing:)`, whose reflection costs a
    /// nightly run milliseconds); a test holds it to the stored properties.
    var fingerprint: String {
        // Numbers by their bits: a setting that differs in the last place differs here.
        func setting(_ name: String, _ value: Double) -> String { "\(name)=\(value.bitPattern)" }
        func setting(_ name: String, _ value: Int) -> String { "\(name)=\(value)" }
        return [
            "watchedCountries=" + watchedCountries.map(\.description).joined(separator: ","),
            "watchesEveryCountry=\(watchesEveryCountry)", setting("maximumCountryTracks", maximumCountryTracks),
            setting("surgeRatio", surgeRatio), setting("sustainedSurgeRatio", sustainedSurgeRatio),
            setting("shareRatio", shareRatio), setting("minimumExcess", minimumExcess),
            setting("minimumCrowd", minimumCrowd),
            setting("significance", significance), setting("dropRatio", dropRatio), setting("closeRatio", closeRatio),
            setting("closeSteps", closeSteps),
            setting("errorShareRatio", errorShareRatio), setting("minimumErrorShare", minimumErrorShare),
            setting("minimumErrors", minimumErrors), setting("errorSignificance", errorSignificance),
            setting("errorShareFloor", errorShareFloor), setting("maximumSites", maximumSites),
            setting("warmUpSteps", warmUpSteps),
        ].joined(separator: ";")
    }
}
