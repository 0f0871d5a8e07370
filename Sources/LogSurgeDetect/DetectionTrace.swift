import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate

/// What the detectors saw, minute by minute, folded into at most a fixed number of columns:
/// the series of the terminal and HTML reports' charts, each beside the baseline it was judged
/// against.
///
/// Memory is columns × series whatever the span (a month of minutes in 720 columns is an hour
/// a column). Steps before a series first appears count as zero requests; steps the detector
/// had no baseline for yet (its warm-up) leave the baseline of their column out.
public final class DetectionTrace: @unchecked Sendable {
    // Invariant: written by the one thread that runs the detectors, read after it finished.
    // (So its stored properties are not checked for overlapping access at run time: every step
    // of every series records here, and the checks were a tenth of the detectors' time.)

    /// The first minute of the first column.
    @exclusivity(unchecked) public private(set) var firstMinute: Int32
    /// Minutes folded into one column (the last column may cover fewer of the span).
    @exclusivity(unchecked) public private(set) var minutesPerColumn: Int
    @exclusivity(unchecked) public private(set) var columnCount: Int
    /// Minutes in the span: the last column covers what is left of it.
    @exclusivity(unchecked) public private(set) var minuteCount: Int
    /// A trace of a stream, whose span is known only at its end: it starts at the first minute
    /// recorded, a minute a column, and doubles the minutes of a column (adding pairs of
    /// columns) whenever the span outgrows `maximumColumns`. Until `finish()` its columns
    /// hold sums (`values`: requests; `baselines`: nil).
    private let growing: Bool
    @exclusivity(unchecked) private var started: Bool
    @exclusivity(unchecked) private var finished = false
    private let maximumColumns: Int

    /// A watched country's requests to one site.
    public struct Surge: Sendable {
        public var site: String
        public var country: CountryCode
        /// Requests per minute, averaged over each column's minutes.
        public var values: [Double]
        /// The busiest minute of each column (of a series of longer steps, the busiest step's
        /// requests a minute).
        public var peaks: [Double]
        /// Minutes of the steps recorded: 1 but for a site checked at a longer step.
        public var stepMinutes = 1

        /// What the busiest of `peaks` is, for a reader: "busiest minute", "busiest hour",
        /// "busiest 5 minutes"; `busiest(_:)` gives a peak as the requests of that step.
        public var busiestName: String { "busiest " + AlertEvent.stepName(minutes: stepMinutes) }
        public func busiest(_ peak: Double) -> Double { peak * Double(stepMinutes) }
        /// The expected requests per minute, averaged over the column's steps that had one;
        /// nil where none had.
        public var baselines: [Double?]
    }

    /// A site's responses and their 5xx share.
    public struct Errors: Sendable {
        public var site: String
        public var requests: [Double]
        public var errors: [Double]
        /// The baseline 5xx share, averaged over the column's steps that had one; nil where none had.
        public var baselines: [Double?]

        /// The 5xx share of each column; nil where the column had no requests.
        public var shares: [Double?] {
            zip(requests, errors).map { $0 > 0 ? $1 / $0 : nil }
        }
    }

    @exclusivity(unchecked) public private(set) var surges: [Surge] = []
    @exclusivity(unchecked) public private(set) var errors: [Errors] = []
    @exclusivity(unchecked) private var surgeIndex: [SeriesKey: Int] = [:]
    @exclusivity(unchecked) private var errorIndex: [String: Int] = [:]
    @exclusivity(unchecked) private var surgeBaselines: [[(sum: Double, steps: Int)]] = []
    @exclusivity(unchecked) private var errorBaselines: [[(sum: Double, steps: Int)]] = []

    private struct SeriesKey: Hashable {
        package var site: String
        package var country: CountryCode
    }

    /// A trace of `minutes` in at most `maximumColumns` columns.
    public init(minutes: ClosedRange<Int32>, maximumColumns: Int) {
        let span = Int(minutes.upperBound) - Int(minutes.lowerBound) + 1
        let columns = max(1, maximumColumns)
        firstMinute = minutes.lowerBound
        minuteCount = span
        minutesPerColumn = max(1, (span + columns - 1) / columns)
        columnCount = max(1, (span + minutesPerColumn - 1) / minutesPerColumn)
        growing = false
        started = true
        self.maximumColumns = columns
    }

    /// A trace of a stream in at most `maximumColumns` columns, from the first minute recorded
    /// to the last (a power of two of minutes a column); `finish()` it before reading it.
    public init(growingTo maximumColumns: Int) {
        firstMinute = 0
        minuteCount = 0
        minutesPerColumn = 1
        columnCount = 0
        growing = true
        started = false
        self.maximumColumns = max(1, maximumColumns)
    }

    /// A copy of the trace as it stands, finished (averages, not sums): what a page of a run
    /// still going shows, while this one goes on recording.
    public func finishedCopy() -> DetectionTrace {
        let copy = DetectionTrace(growingTo: maximumColumns, growing: growing)
        copy.firstMinute = firstMinute
        copy.minutesPerColumn = minutesPerColumn
        copy.columnCount = columnCount
        copy.minuteCount = minuteCount
        copy.started = started
        copy.finished = finished
        copy.surges = surges
        copy.errors = errors
        copy.surgeIndex = surgeIndex
        copy.errorIndex = errorIndex
        copy.surgeBaselines = surgeBaselines
        copy.errorBaselines = errorBaselines
        copy.finish()
        return copy
    }

    private init(growingTo maximumColumns: Int, growing: Bool) {
        firstMinute = 0
        minuteCount = 0
        minutesPerColumn = 1
        columnCount = 0
        self.growing = growing
        started = false
        self.maximumColumns = max(1, maximumColumns)
    }

    /// Whether any step was recorded.
    public var isEmpty: Bool { !started }

    /// Ends a growing trace: its columns' sums become averages over their minutes.
    public func finish() {
        guard growing, started, !finished else { return }
        finished = true
        for index in surges.indices {
            for column in 0..<columnCount {
                surges[index].values[column] /= Double(minutes(inColumn: column))
                let (sum, steps) = surgeBaselines[index][column]
                surges[index].baselines[column] = steps > 0 ? sum / Double(steps) : nil
            }
        }
        for index in errors.indices {
            for column in 0..<columnCount {
                let (sum, steps) = errorBaselines[index][column]
                errors[index].baselines[column] = steps > 0 ? sum / Double(steps) : nil
            }
        }
    }

    /// An empty trace of the minutes `buckets` span, in at most `maximumColumns` columns; nil
    /// when no columns are asked for or there are no buckets.
    public convenience init?(spanOf buckets: MinuteBuckets, maximumColumns: Int?) {
        guard let maximumColumns, let range = buckets.minuteRange else { return nil }
        self.init(minutes: range, maximumColumns: maximumColumns)
    }

    /// The first minute of each column.
    /// (In `Int`: a column's offset is a span of minutes, which may pass `Int32` where the
    /// minute it reaches does not.)
    public func minute(ofColumn column: Int) -> Int32 {
        Int32(Int(firstMinute) + column * minutesPerColumn)
    }

    /// The last minute of the span.
    public var lastMinute: Int32 { Int32(Int(firstMinute) + minuteCount - 1) }

    /// Minutes of the span in `column`.
    public func minutes(inColumn column: Int) -> Int {
        min(minutesPerColumn, minuteCount - column * minutesPerColumn)
    }

    /// The column of `minute`, nil when outside the trace (a growing trace grows to hold it).
    private func column(of minute: Int32) -> Int? {
        if growing && !started {
            firstMinute = minute
            started = true
        }
        let offset = Int(minute) - Int(firstMinute)
        guard offset >= 0 else { return nil }
        if growing {
            while offset / minutesPerColumn >= maximumColumns { halveColumns() }
            let column = offset / minutesPerColumn
            if column >= columnCount { addColumns(column + 1 - columnCount) }
            minuteCount = max(minuteCount, offset + 1)
            return column
        }
        let column = offset / minutesPerColumn
        return column < columnCount ? column : nil
    }

    /// Appends `count` empty columns to every series of a growing trace.
    private func addColumns(_ count: Int) {
        columnCount += count
        for index in surges.indices {
            surges[index].values += repeatElement(0, count: count)
            surges[index].peaks += repeatElement(0, count: count)
            surges[index].baselines += repeatElement(nil, count: count)
            surgeBaselines[index] += repeatElement((sum: 0.0, steps: 0), count: count)
        }
        for index in errors.indices {
            errors[index].requests += repeatElement(0, count: count)
            errors[index].errors += repeatElement(0, count: count)
            errors[index].baselines += repeatElement(nil, count: count)
            errorBaselines[index] += repeatElement((sum: 0.0, steps: 0), count: count)
        }
    }

    /// Twice the minutes a column in half the columns: each pair of columns added together.
    private func halveColumns() {
        func pairs<T>(_ values: [T], _ combine: (T, T) -> T) -> [T] {
            stride(from: 0, to: values.count, by: 2).map { $0 + 1 < values.count ? combine(values[$0], values[$0 + 1]) : values[$0] }
        }
        for index in surges.indices {
            surges[index].values = pairs(surges[index].values, +)
            surges[index].peaks = pairs(surges[index].peaks, max)
            surges[index].baselines = pairs(surges[index].baselines) { _, _ in nil }
            surgeBaselines[index] = pairs(surgeBaselines[index]) { ($0.sum + $1.sum, $0.steps + $1.steps) }
        }
        for index in errors.indices {
            errors[index].requests = pairs(errors[index].requests, +)
            errors[index].errors = pairs(errors[index].errors, +)
            errors[index].baselines = pairs(errors[index].baselines) { _, _ in nil }
            errorBaselines[index] = pairs(errorBaselines[index]) { ($0.sum + $1.sum, $0.steps + $1.steps) }
        }
        minutesPerColumn *= 2
        columnCount = (columnCount + 1) / 2
    }

    /// The index of the series of `country` at `site`, made on first use: the detectors keep
    /// it, so recording a step costs no lookup by name.
    func surgeSlot(site: String, country: CountryCode) -> Int {
        let key = SeriesKey(site: site, country: country)
        if let known = surgeIndex[key] { return known }
        surgeIndex[key] = surges.count
        let zeros = [Double](repeating: 0, count: columnCount)
        surges.append(
            Surge(
                site: site, country: country, values: zeros, peaks: zeros,
                baselines: [Double?](repeating: nil, count: columnCount)))
        surgeBaselines.append(Array(repeating: (0, 0), count: columnCount))
        return surges.count - 1
    }

    /// The index of the 5xx series of `site`, made on first use.
    func errorSlot(site: String) -> Int {
        if let known = errorIndex[site] { return known }
        errorIndex[site] = errors.count
        let zeros = [Double](repeating: 0, count: columnCount)
        errors.append(
            Errors(
                site: site, requests: zeros, errors: zeros,
                baselines: [Double?](repeating: nil, count: columnCount)))
        errorBaselines.append(Array(repeating: (0, 0), count: columnCount))
        return errors.count - 1
    }

    /// Calls `body` with each column a step of `minutes` minutes from `minute` covers (within
    /// the trace) and the share of the step's minutes in it: a step longer than a column (an
    /// hourly step of a quiet site on a page of 4 minutes a column) is spread over its columns,
    /// not heaped on its first.
    @inline(__always)
    private func forEachColumn(of minute: Int32, minutes: Int, _ body: (_ column: Int, _ share: Double) -> Void) {
        let end = Int(minute) + max(1, minutes)
        var next = growing ? Int(minute) : max(Int(minute), Int(firstMinute))
        while next < end, let column = column(of: Int32(next)) {
            let columnEnd = Int(self.minute(ofColumn: column)) + minutesPerColumn
            let covered = min(end, columnEnd) - next
            body(column, covered == minutes ? 1 : Double(covered) / Double(minutes))
            next += covered
        }
    }

    /// Records one step of `minutes` minutes of a surge series.
    func surge(slot index: Int, minute: Int32, minutes: Int, count: Double, baseline: Double?) {
        forEachColumn(of: minute, minutes: minutes) { column, share in
            // A step of several minutes spreads evenly over them. (A growing trace sums, and
            // averages when it is finished.)
            surges[index].stepMinutes = minutes
            let part = share == 1 ? count : count * share
            surges[index].values[column] += growing ? part : part / Double(self.minutes(inColumn: column))
            surges[index].peaks[column] = max(surges[index].peaks[column], count / Double(minutes))
            if let baseline {
                surgeBaselines[index][column].sum += baseline / Double(minutes)
                surgeBaselines[index][column].steps += 1
                let (sum, steps) = surgeBaselines[index][column]
                if !growing { surges[index].baselines[column] = sum / Double(steps) }
            }
        }
    }

    /// Records one step of `minutes` minutes of a site's responses and 5xx.
    func errors(slot index: Int, minute: Int32, minutes: Int = 1, requests: Int, errors count: Int, baselineShare: Double?) {
        forEachColumn(of: minute, minutes: minutes) { column, share in
            errors[index].requests[column] += share == 1 ? Double(requests) : Double(requests) * share
            errors[index].errors[column] += share == 1 ? Double(count) : Double(count) * share
            if let baselineShare {
                errorBaselines[index][column].sum += baselineShare
                errorBaselines[index][column].steps += 1
                let (sum, steps) = errorBaselines[index][column]
                if !growing { errors[index].baselines[column] = sum / Double(steps) }
            }
        }
    }

    /// Sites with requests, busiest first (ties by name).
    public func sitesByRequests() -> [String] {
        let totals: [(site: String, requests: Double)] = errors.compactMap { series in
            let requests = series.requests.reduce(0, +)
            return requests > 0 ? (series.site, requests) : nil
        }
        return totals.sorted { $0.requests != $1.requests ? $0.requests > $1.requests : $0.site < $1.site }.map(\.site)
    }

    /// The sites the reports chart: the `busiest`, then those of `alsoShown` (sites with an
    /// episode, in the caller's order) the trace has, until there are `most`.
    public func chartedSites(busiest: Int, most: Int, alsoShown: [String]) -> [String] {
        var sites = Array(sitesByRequests().prefix(busiest))
        for site in alsoShown where sites.count < most && !sites.contains(site) && errorIndex[site] != nil {
            sites.append(site)
        }
        return sites
    }

    public func surge(site: String, country: CountryCode) -> Surge? {
        surgeIndex[SeriesKey(site: site, country: country)].map { surges[$0] }
    }

    public func errors(site: String) -> Errors? {
        errorIndex[site].map { errors[$0] }
    }
}
