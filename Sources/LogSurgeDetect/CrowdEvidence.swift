import LogSurgeCore
import LogSurgeAggregate

/// Who a watched country's requests to a site came from, step by step: a surge must be a
/// crowd, not one client (a crawler, a scanner, a CDN edge standing for its visitors).
///
/// Per step it keeps the distinct clients and the busiest client's requests of the last
/// `capacity` steps (a test window at most), and, over normal steps (no episode), decayed sums
/// of requests, distinct clients and the busiest client's requests (a half-life of a day of
/// steps): the clients' usual requests a step, and what the busiest client usually sends.
/// Bounded: 60 steps and three numbers, whatever the span.
struct CrowdEvidence: Equatable {
    static let capacity = 60
    /// Weight of the past per normal step: a half-life of 1,440 steps.
    static let decay = 0.999_518_8

    private var distinct: [Int32] = []
    private var busiest: [Int32] = []
    private var position = 0
    /// Decayed sums over normal steps whose clients were known.
    private var requests = 0.0
    private var clients = 0.0
    private var busiestRequests = 0.0
    private var weight = 0.0

    /// Records this step's clients: nil with requests is not known (-1: a minute a `--state`
    /// night replays from the state, which keeps counts, not clients), nil without is none.
    mutating func append(_ figures: ClientFigures?, requests: Int) {
        let unknown: Int32 = figures == nil && requests > 0 ? -1 : 0
        let entry = (figures.map { Int32(clamping: $0.distinct) } ?? unknown, Int32(clamping: figures?.busiest ?? 0))
        if distinct.count < Self.capacity {
            distinct.append(entry.0)
            busiest.append(entry.1)
            position = distinct.count % Self.capacity
        } else {
            distinct[position] = entry.0
            busiest[position] = entry.1
            position = (position + 1) % Self.capacity
        }
    }

    /// The clients of the step `back` steps before the last one appended (nil when unknown).
    func at(stepsBack back: Int) -> ClientFigures? {
        guard back >= 0, back < distinct.count else { return nil }
        let index = slot(stepsBack: back)
        guard distinct[index] > 0 else { return nil }
        return ClientFigures(distinct: Int(distinct[index]), busiest: Int(busiest[index]))
    }

    /// Where the step `back` steps before the last one appended is kept (`back` < the steps kept).
    private func slot(stepsBack back: Int) -> Int { (position - 1 - back + 2 * Self.capacity) % Self.capacity }

    /// The last step's clients.
    var last: ClientFigures? { at(stepsBack: 0) }

    /// What the busiest client of a normal step usually sends.
    private var usualBusiest: Double { weight > 0 ? busiestRequests / weight : 0 }

    /// Distinct clients per request in normal steps (once known).
    var clientsPerRequest: Double? { requests > 0 && clients > 0 ? min(1, clients / requests) : nil }

    /// What the last step's busiest client sent beyond twice the usual busiest (and 2): a
    /// crawler's or a scanner's part of the step, which no baseline should learn.
    var busiestBeyondUsual: Double { busiestExcess(steps: 1, over: 2 * usualBusiest + 2) }

    /// What the busiest client of each of the last `steps` steps sent beyond what the busiest
    /// client usually sends, summed: a crawler's part of an episode's steps.
    func busiestExcess(steps: Int) -> Double { busiestExcess(steps: steps, over: usualBusiest) }

    private func busiestExcess(steps: Int, over limit: Double) -> Double {
        var sum = 0.0
        for back in 0..<min(steps, distinct.count) {
            if let figures = at(stepsBack: back) { sum += max(0, Double(figures.busiest) - limit) }
        }
        return sum
    }

    /// Learns the last step (not part of an episode) as normal: `count` requests. A busiest
    /// client above twice the usual (and 2) is learnt at that: a crawler that comes and goes
    /// without an episode neither becomes the usual busiest client nor thins the clients.
    mutating func learn(count: Int) {
        guard let figures = last else { return }
        let beyond = busiestBeyondUsual
        requests = requests * Self.decay + Double(count) - beyond
        clients = clients * Self.decay + Double(figures.distinct)
        busiestRequests = busiestRequests * Self.decay + Double(figures.busiest) - beyond
        weight = weight * Self.decay + 1
    }

    /// Judges `count` requests over the last `window` steps against `expected`: the count
    /// without what each step's busiest client sent beyond what the busiest client usually sends
    /// (a crawler's or a scanner's excess is not a surge's), and whether the clients are a
    /// crowd: their distinct clients, summed over the steps, as unlikely under the usual clients
    /// per request (a negative binomial of `dispersion`) as `significance`, at least `minimum`
    /// more a step than expected, and enough of them to have sent the excess at no more than
    /// four times the usual requests per client (so that two or six crawlers, each a client
    /// sending hundreds, are not one). The count as given, and a crowd, when the clients are not
    /// known (no `clients` column).
    func judge(
        window: Int, count: Double, expected: Double, dispersion: Double, significance: Double, minimum: Double
    ) -> (count: Double, isCrowd: Bool) {
        let usual = usualBusiest
        var busiestExcess = 0.0, observed = 0.0
        for back in 0..<min(window, distinct.count) {
            // A step with requests whose clients are not known: the window is judged on its counts.
            if distinct[slot(stepsBack: back)] < 0 { return (count, true) }
            guard let figures = at(stepsBack: back) else { continue }
            busiestExcess += max(0, Double(figures.busiest) - usual)
            observed += Double(figures.distinct)
        }
        // Clients known but no normal step learnt yet (a country's first requests): as if each
        // request were a client of its own, the most a crowd could be.
        guard let perRequest = clientsPerRequest ?? (observed > 0 ? 1 : nil) else { return (count, true) }
        let steps = Double(window)
        let expectedClients = max(expected * perRequest, 0.05 * steps)
        let extraClients = observed - expectedClients
        let remaining = max(0, count - busiestExcess)
        let crowd =
            extraClients / steps >= minimum && extraClients * 4 / perRequest >= remaining - expected
            && CountStatistics.negativeBinomialUpperTail(Int(observed), mean: expectedClients, dispersion: dispersion) < significance
        return (remaining, crowd)
    }
}

/// Who a surge's excess came from, as it goes: for the alert's `clients` (distinct clients of
/// its peak step) and `top_client_share` (the share of its excess the busiest client sent; the
/// busiest client of each step is counted, so this is an upper bound when they differ).
struct EpisodeCrowd: Equatable {
    var peakClients: Int?
    private var excess = 0.0
    private var busiest = 0.0
    private var known = false

    /// One step of the episode: `count` requests against `baseline`, from `clients`.
    mutating func add(count: Double, baseline: Double, clients: ClientFigures?) {
        let stepExcess = max(0, count - baseline)
        excess += stepExcess
        // A bucket file says how many clients, not how busy the busiest was (0: not known).
        guard let clients, clients.busiest > 0 else { return }
        known = true
        busiest += min(Double(clients.busiest), stepExcess)
    }

    /// The share of the excess the busiest client sent, when the busiest clients are known.
    var topClientShare: Double? {
        guard known, excess > 0 else { return nil }
        return min(1, busiest / excess)
    }
}

// MARK: - Snapshots

extension CrowdEvidence {
    func write(to writer: inout SnapshotWriter) {
        writer.array(Array(zip(distinct, busiest))) {
            $0.int(Int($1.0)); $0.int(Int($1.1))
        }
        writer.int(position)
        for value in [requests, clients, busiestRequests, weight] { writer.double(value) }
    }

    init(from reader: inout SnapshotReader) throws {
        let pairs = try reader.array(atMost: Self.capacity) { reader in (try reader.int(), try reader.int()) }
        let sane = 0...Int(Int32.max)
        try reader.check(pairs.allSatisfy { (-1...Int(Int32.max)).contains($0.0) && sane.contains($0.1) })
        distinct = pairs.map { Int32($0.0) }
        busiest = pairs.map { Int32($0.1) }
        position = try reader.int()
        try reader.check(position >= 0 && position < Self.capacity && (pairs.count == Self.capacity || position == pairs.count))
        requests = try reader.double()
        clients = try reader.double()
        busiestRequests = try reader.double()
        weight = try reader.double()
        try reader.check([requests, clients, busiestRequests, weight].allSatisfy { $0.isFinite && $0 >= 0 && $0 < 0x1p50 })
    }
}

extension EpisodeCrowd {
    func write(to writer: inout SnapshotWriter) {
        writer.optional(peakClients) { $0.int($1) }
        writer.double(excess)
        writer.double(busiest)
        writer.bool(known)
    }

    init(from reader: inout SnapshotReader) throws {
        peakClients = try reader.optional { try $0.int() }
        excess = try reader.double()
        busiest = try reader.double()
        known = try reader.bool()
        try reader.check((peakClients ?? 0) >= 0 && [excess, busiest].allSatisfy { $0.isFinite && $0 >= 0 && $0 < 0x1p50 })
    }
}
