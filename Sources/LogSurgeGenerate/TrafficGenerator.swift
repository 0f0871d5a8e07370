import LogSurgeParse
import LogSurgeCore

/// Settings of the synthetic access-log generator.
public struct GeneratorConfiguration: Sendable {
    /// First UTC minute generated. By default, 2016-11-01T00:00Z.
    public var start: Int32 = UTCMinute.minute(year: 2016, month: 11, day: 1, hour: 0, minute: 0)!
    /// Minutes generated. By default, 3 days.
    public var minutes: Int = 3 * 1440
    /// Requests per minute of the whole site if every country were at its daily peak. By default, 60.
    public var peakRate: Double = 60
    /// Seed of every random choice. By default, 1.
    public var seed: UInt64 = 1
    /// How lines are written: a built-in layout, a format string, Caddy, ALB, W3C. By default, combined.
    public var layout: GeneratedLayout = .builtin(.combined)
    /// Virtual host written by the layouts that log one. By default, `www.immigration.example`.
    public var host: String = "www.immigration.example"
    /// Whether visitors reach the server through a proxy or a CDN. By default, directly.
    public var proxy: ProxySetup = .none
    /// UTC offset of the server clock written in each line, in minutes. By default, -300 (-0500).
    public var serverOffsetMinutes: Int = -300
    /// Share of lines that are malformed (garbage, cut, bad dates). By default, 0.0005.
    public var malformedRate: Double = 0.0005
    /// Who visits.
    public var profile: TrafficProfile = .immigrationSite
    /// Surges and error spikes injected into the normal traffic. By default, none.
    public var events: [InjectedEvent] = []
    /// Over-dispersion: each minute's expected requests are multiplied by a gamma draw of mean 1
    /// and this variance (a gamma-Poisson mixture, the negative binomial real traffic looks
    /// like: bursts of a few visitors, a page with many assets). 0: Poisson. By default, 0.
    public var dispersion: Double = 0
    /// Slow level drift: every country's traffic times exp(drift × a wander of periods of 3 to
    /// 17 days, between −1 and 1), as a site's audience grows and shrinks over weeks. 0: none.
    /// By default, 0.
    public var drift: Double = 0

    public init() {}
}

/// How visitors reach the generated server.
public enum ProxySetup: String, Sendable, CaseIterable {
    /// Directly: the connecting address is the visitor's.
    case none
    /// Through Cloudflare: the connecting address is an edge of its published ranges, the
    /// visitor is in X-Forwarded-For (one request in ten with a spoofed entry before it) and
    /// its country in CF-IPCountry.
    case cdn
    /// Through a load balancer on a private address, some requests through a CDN before it:
    /// X-Forwarded-For is `visitor` or `visitor, edge`.
    case balancer
}

/// Writes realistic synthetic access logs minute by minute.
///
/// Each country's traffic follows a daily rhythm in its own time zone (trough around 04:00,
/// peak around 15:00 local) and a weekly one (weekends quieter); each minute's count is drawn
/// from a Poisson distribution, so low volumes are as noisy as real ones, or with
/// `dispersion` from a gamma-Poisson mixture, as bursty as real ones. Clients repeat
/// (a skewed pick from a per-country pool), statuses, paths, sizes and user agents follow a
/// realistic mix, and a small share of lines is malformed.
public struct TrafficGenerator {
    public let configuration: GeneratorConfiguration
    private var random: SeededGenerator
    private let shares: [Double]
    private let pools: [[[UInt8]]]
    /// Proxy choices have their own stream, so the requests are the same whatever the setup.
    private var proxyRandom: SeededGenerator
    /// The over-dispersion draws have their own stream, so a dispersion of 0 changes nothing.
    private var burstRandom: SeededGenerator
    /// The clients `sampleCountsAndClients` picks, from a stream of their own.
    private var clientRandom: SeededGenerator
    /// The address of each crawler event (by its index in `events`).
    private let crawlers: [Int: [UInt8]]
    private let writer: RequestWriter
    /// The phases of the drift's three periods.
    private let driftPhases: [Double]

    public init(configuration: GeneratorConfiguration) {
        self.configuration = configuration
        random = SeededGenerator(seed: configuration.seed)
        proxyRandom = SeededGenerator(seed: configuration.seed ^ 0x9E0C_5EED_0000_0017)
        burstRandom = SeededGenerator(seed: configuration.seed ^ 0xB025_7000_0000_0031)
        clientRandom = SeededGenerator(seed: configuration.seed ^ 0xC11E_5000_0000_0051)
        writer = RequestWriter(layout: configuration.layout, offsetMinutes: configuration.serverOffsetMinutes)
        let total = configuration.profile.countries.reduce(0) { $0 + $1.share }
        shares = configuration.profile.countries.map { $0.share / total }
        var poolRandom = SeededGenerator(seed: configuration.seed ^ 0x5EED_C11E_4750_0001)
        pools = zip(configuration.profile.countries, shares).map { country, share in
            let size = 50 + Int(share * configuration.peakRate * 400)
            return (0..<size).map { _ in Self.makeAddress(country, ipv6Share: configuration.profile.ipv6Share, random: &poolRandom) }
        }
        var crawlerRandom = SeededGenerator(seed: configuration.seed ^ 0xC2A7_1E20_0000_0041)
        var crawlers: [Int: [UInt8]] = [:]
        for (index, event) in configuration.events.enumerated() {
            guard case .crawler(let code, _) = event.kind else { continue }
            // A country the profile does not know crawls from the profile's first (`generate` refuses it).
            let country = configuration.profile.countries.first { $0.code == code } ?? configuration.profile.countries[0]
            crawlers[index] = Self.makeAddress(country, ipv6Share: 0, random: &crawlerRandom)
        }
        self.crawlers = crawlers
        var driftRandom = SeededGenerator(seed: configuration.seed ^ 0xD21F_7000_0000_0061)
        driftPhases = (0..<3).map { _ in driftRandom.unit() * 2 * .pi }
    }

    /// The level drift's factor at `minute` (1 without `drift`): a smooth wander, the same for
    /// every country, of periods 3.1, 7.7 and 17.3 days.
    public func driftFactor(minute: Int32) -> Double {
        guard configuration.drift > 0 else { return 1 }
        let days = Double(minute) / 1440
        let wander = zip([3.1, 7.7, 17.3], driftPhases).reduce(0.0) { $0 + sin(2 * .pi * days / $1.0 + $1.1) } / 3
        return exp(configuration.drift * wander)
    }

    /// The expected requests of each country in `minute` (before noise).
    public func expectedRequests(minute: Int32) -> [Double] {
        let drift = driftFactor(minute: minute)
        return configuration.profile.countries.indices.map { index in
            let country = configuration.profile.countries[index]
            let local = Double(minute) + country.utcOffsetHours * 60
            let hour = (local / 60).truncatingRemainder(dividingBy: 24) + (local < 0 ? 24 : 0)
            let day = Int((local / 1440).rounded(.down))
            let weekday = ((day + 4) % 7 + 7) % 7  // 1970-01-01 was a Thursday; 0 = Sunday
            var rate =
                configuration.peakRate * shares[index] * Self.diurnal(hour: hour) * (weekday == 0 || weekday == 6 ? 0.7 : 1)
                * drift
            for event in configuration.events {
                switch event.kind {
                case .surge(let code, let factor) where code == nil || code == country.code:
                    rate *= 1 + (factor - 1) * event.strength(at: minute)
                case .drop(let factor):
                    rate *= 1 + (factor - 1) * event.strength(at: minute)
                default: continue
                }
            }
            return rate
        }
    }

    /// The share of responses forced to 5xx in `minute` by injected error spikes.
    public func injectedErrorShare(minute: Int32) -> Double {
        var share = 0.0
        for event in configuration.events {
            guard case .errorSpike(let spike) = event.kind else { continue }
            share = max(share, spike * event.strength(at: minute))
        }
        return share
    }

    /// Requests and 5xx responses per country in `minute`, drawn as `appendLines` would draw
    /// them but without writing lines: for detection tests and benchmarks at full speed.
    /// Crawlers' requests count with their country's.
    public mutating func sampleCounts(minute: Int32) -> [(country: String, requests: Int, errors: Int)] {
        sample(minute: minute, clients: false).map { ($0.country, $0.requests, $0.errors) }
    }

    /// The same with each country's clients: how many distinct, and the busiest one's requests
    /// (picked from its pool as `appendLines` picks them, from a stream of their own, so the
    /// counts are `sampleCounts`'s; a crawler is one client).
    public mutating func sampleCountsAndClients(
        minute: Int32
    ) -> [(country: String, requests: Int, errors: Int, clients: Int, busiest: Int)] {
        sample(minute: minute, clients: true)
    }

    private mutating func sample(
        minute: Int32, clients: Bool
    ) -> [(country: String, requests: Int, errors: Int, clients: Int, busiest: Int)] {
        let normal = Self.statuses.filter { $0.0 >= 500 }.reduce(0) { $0 + $1.1 } / Self.statuses.reduce(0) { $0 + $1.1 }
        let factor = burst()
        var requests = expectedRequests(minute: minute).map { poisson($0 * factor) }
        var picked: [[Int: Int]] = clients ? requests.indices.map { _ in [:] } : []
        if clients {
            for (country, count) in requests.enumerated() {
                for _ in 0..<count {
                    let skew = clientRandom.unit()
                    picked[country][Int(skew * skew * Double(pools[country].count)), default: 0] += 1
                }
            }
        }
        for (index, event) in configuration.events.enumerated() {
            guard case .crawler(let code, let rate) = event.kind, event.strength(at: minute) > 0 else { continue }
            let country = configuration.profile.countries.firstIndex { $0.code == code } ?? 0
            let count = poisson(rate * event.strength(at: minute))
            requests[country] += count
            if clients, count > 0 { picked[country][-1 - index, default: 0] += count }
        }
        var owners: [Int] = []  // the country of each request of the minute
        for (country, count) in requests.enumerated() { owners += repeatElement(country, count: count) }
        let forced = forcedErrors(among: owners.count, minute: minute)
        var errors = [Int](repeating: 0, count: requests.count)
        for (position, country) in owners.enumerated() where forced.contains(position) || random.unit() < normal {
            errors[country] += 1
        }
        return requests.indices.map {
            (
                configuration.profile.countries[$0].code, requests[$0], errors[$0], clients ? picked[$0].count : 0,
                clients ? picked[$0].values.max() ?? 0 : 0
            )
        }
    }

    /// Which of a minute's `count` requests an injected error spike turns into 5xx: exactly its
    /// share (rounded), picked at random, as when one backend in ten fails behind a load
    /// balancer. A per-request coin would let a small minute show a third of the spike.
    private mutating func forcedErrors(among count: Int, minute: Int32) -> Set<Int> {
        let share = injectedErrorShare(minute: minute)
        guard share > 0, count > 0 else { return [] }
        var positions = Array(0..<count)
        let chosen = min(count, Int((share * Double(count)).rounded()))
        for index in 0..<chosen {
            positions.swapAt(index, index + Int(random.next() % UInt64(count - index)))
        }
        return Set(positions[..<chosen])
    }

    /// 0.15 at 04:00, 1.0 at 16:00 local time, smooth in between.
    static func diurnal(hour: Double) -> Double {
        let phase = (hour - 4) / 24 * 2 * Double.pi
        let wave = 0.5 - 0.5 * cos(phase)
        return 0.15 + 0.85 * wave * wave.squareRoot()
    }

    /// This minute's over-dispersion factor (1 without `dispersion`).
    private mutating func burst() -> Double {
        let variance = configuration.dispersion
        guard variance > 0 else { return 1 }
        return Self.gamma(shape: 1 / variance, random: &burstRandom) * variance
    }

    /// A gamma draw of scale 1 (Marsaglia and Tsang's method; shape below 1 by boosting).
    static func gamma(shape: Double, random: inout SeededGenerator) -> Double {
        if shape < 1 {
            return gamma(shape: shape + 1, random: &random) * pow(max(random.unit(), 1e-300), 1 / shape)
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let u1 = max(random.unit(), 1e-300), u2 = random.unit()
            let x = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            let v = pow(1 + c * x, 3)
            guard v > 0 else { continue }
            let u = max(random.unit(), 1e-300)
            if log(u) < 0.5 * x * x + d - d * v + d * log(v) { return d * v }
        }
    }

    /// Appends every line of `minute` to `out`, in time order. Crawlers' lines have country
    /// index -1 - (their event's index).
    public mutating func appendLines(minute: Int32, to out: inout [UInt8]) {
        var events: [(second: UInt8, country: Int)] = []
        let factor = burst()
        for (index, expected) in expectedRequests(minute: minute).enumerated() {
            for _ in 0..<poisson(expected * factor) { events.append((UInt8(random.next() % 60), index)) }
        }
        for (index, event) in configuration.events.enumerated() {
            guard case .crawler(_, let rate) = event.kind, event.strength(at: minute) > 0 else { continue }
            for _ in 0..<poisson(rate * event.strength(at: minute)) { events.append((UInt8(random.next() % 60), -1 - index)) }
        }
        events.sort { $0.second != $1.second ? $0.second < $1.second : $0.country < $1.country }
        let forced = forcedErrors(among: events.count, minute: minute)
        for (position, event) in events.enumerated() {
            if random.unit() < configuration.malformedRate {
                appendMalformed(minute: minute, second: Int(event.second), to: &out)
            } else {
                appendLine(
                    minute: minute, second: Int(event.second), country: event.country,
                    forcedError: forced.contains(position), to: &out)
            }
        }
    }

    private mutating func poisson(_ mean: Double) -> Int {
        if mean <= 0 { return 0 }
        if mean < 40 {
            let limit = exp(-mean)
            var product = random.unit(), count = 0
            while product > limit { product *= random.unit(); count += 1 }
            return count
        }
        // Normal approximation (Box–Muller) where Knuth's method gets slow.
        let u1 = max(random.unit(), 1e-300), u2 = random.unit()
        let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return max(0, Int((mean + normal * mean.squareRoot()).rounded()))
    }

    private mutating func pick<T>(_ weighted: [(T, Double)]) -> T {
        var target = random.unit() * weighted.reduce(0) { $0 + $1.1 }
        for (value, weight) in weighted {
            target -= weight
            if target < 0 { return value }
        }
        return weighted[weighted.count - 1].0
    }

    /// The lines a file of the layout starts with (W3C directives), for a file starting at `minute`.
    public func header(minute: Int32) -> [UInt8] { writer.header(minute: minute) }

    private mutating func appendLine(minute: Int32, second: Int, country: Int, forcedError: Bool, to out: inout [UInt8]) {
        if country < 0 {
            appendCrawlerLine(minute: minute, second: second, event: -1 - country, to: &out)
            return
        }
        let pool = pools[country]
        let skew = random.unit()
        let client = pool[Int(skew * skew * Double(pool.count))]
        let (path, method, size) = pick(Self.pages)
        var status = pick(Self.statuses)
        if method == "POST", status == 304 { status = 200 }
        if forcedError { status = [500, 502, 503, 504][Int(random.next() % 4)] }
        let bytes: Int
        switch status {
        case 304, 204: bytes = 0
        case 301, 302: bytes = 162 + Int(random.next() % 80)
        case 400..<600: bytes = 150 + Int(random.next() % 400)
        default: bytes = size / 2 + Int(random.next() % UInt64(size + 1))
        }
        let referer = pick(Self.referers)
        let agent = pick(Self.agents)
        var request = GeneratedRequest(
            minute: minute, second: second, client: client, country: configuration.profile.countries[country].code,
            method: method, path: path, status: status, bytes: bytes, referer: referer, agent: agent,
            host: configuration.host)
        behindProxy(&request)
        writer.append(request, to: &out)
    }

    /// One request of the crawler of event `index`: its one address, a bot's user agent, pages
    /// walked in turn.
    private mutating func appendCrawlerLine(minute: Int32, second: Int, event index: Int, to out: inout [UInt8]) {
        guard case .crawler(let code, _) = configuration.events[index].kind, let client = crawlers[index] else { return }
        let (path, method, size) = Self.pages[Int(random.next() % UInt64(Self.pages.count))].0
        var request = GeneratedRequest(
            minute: minute, second: second, client: client, country: code, method: method == "POST" ? "GET" : method, path: path,
            status: 200, bytes: size, referer: "-",
            agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", host: configuration.host)
        behindProxy(&request)
        writer.append(request, to: &out)
    }

    /// Sets the connecting address and X-Forwarded-For of a request that came through a proxy.
    private mutating func behindProxy(_ request: inout GeneratedRequest) {
        let visitor = String(decoding: request.client, as: UTF8.self)
        switch configuration.proxy {
        case .none:
            // A layout whose only client is X-Forwarded-For sits behind a balancer that sets it.
            if !writer.logsClient { request.forwardedFor = visitor }
            return
        case .cdn:
            request.connecting = Self.edge(&proxyRandom)
            let spoofed = proxyRandom.next() % 10 == 0
            request.forwardedFor = spoofed ? "8.8.\(proxyRandom.next() % 250).1, \(visitor)" : visitor
        case .balancer:
            request.connecting = Array("10.0.\(proxyRandom.next() % 4).\(proxyRandom.next() % 250 + 2)".utf8)
            let throughCDN = proxyRandom.next() % 3 == 0
            request.forwardedFor = throughCDN ? "\(visitor), \(String(decoding: Self.edge(&proxyRandom), as: UTF8.self))" : visitor
        }
    }

    /// An address of Cloudflare's published edge ranges.
    private static func edge(_ random: inout SeededGenerator) -> [UInt8] {
        let networks: [(UInt32, UInt32)] = [(0xA29E_0000, 17), (0xAC40_0000, 16), (0x6810_0000, 16)]  // 162.158/15, 172.64/13, 104.16/13
        let (base, hostBits) = networks[Int(random.next() % UInt64(networks.count))]
        let address = base | (UInt32(truncatingIfNeeded: random.next()) & ((1 << hostBits) - 1)) | 1
        return Array("\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)".utf8)
    }

    private mutating func appendMalformed(minute: Int32, second: Int, to out: inout [UInt8]) {
        switch random.next() % 5 {
        case 0:  // a scanner speaking TLS to the plain-HTTP port: a request all the same, status 400
            var request = GeneratedRequest(
                minute: minute, second: second, client: Array("198.51.100.\(random.next() % 250 + 1)".utf8), country: "--",
                method: "-", path: "-", rawRequest: #"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"#, status: 400, bytes: 157,
                referer: "-", agent: "-", host: configuration.host)
            behindProxy(&request)
            writer.append(request, to: &out)
        case 1:  // a line cut short by a crash
            out += Array("73.2.41.\(random.next() % 250 + 1) - - ".utf8)
            appendTimestamp(minute: minute, second: second, to: &out)
            out += Array(" \"GET /en/visas/stu\n".utf8)
        case 2:  // a date that does not exist
            out += Array(
                "99.230.1.\(random.next() % 250 + 1) - - [31/Feb/2016:10:00:00 -0500] \"GET / HTTP/1.1\" 200 512 \"-\" \"curl/7.88.1\"\n"
                    .utf8)
        case 3:  // garbage from another program
            out += Array("PHP Warning:  session_start(): open(/var/lib/php/sessions/sess_x, O_RDWR) failed\n".utf8)
        default:  // a status that is not a number
            out += Array("117.200.3.\(random.next() % 250 + 1) - - ".utf8)
            appendTimestamp(minute: minute, second: second, to: &out)
            out += Array(" \"GET /favicon.ico HTTP/1.1\" - 0 \"-\" \"-\"\n".utf8)
        }
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `[dd/Mon/yyyy:HH:MM:SS ±hhmm]` in the server's time zone.
    private func appendTimestamp(minute: Int32, second: Int, to out: inout [UInt8]) {
        let offset = configuration.serverOffsetMinutes
        let local = Int(minute) + offset
        let days = local >= 0 ? local / 1440 : (local - 1439) / 1440
        let (year, month, day) = UTCMinute.civil(fromDays: days)
        let minuteOfDay = local - days * 1440
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let sign = offset < 0 ? "-" : "+"
        let zone = "\(sign)\(two(abs(offset) / 60))\(two(abs(offset) % 60))"
        out += Array(
            "[\(two(day))/\(Self.months[month - 1])/\(year):\(two(minuteOfDay / 60)):\(two(minuteOfDay % 60)):\(two(second)) \(zone)]".utf8)
    }

    private static func makeAddress(_ country: TrafficProfile.Country, ipv6Share: Double, random: inout SeededGenerator) -> [UInt8] {
        if !country.ipv6.isEmpty, random.unit() < ipv6Share {
            let network = country.ipv6[Int(random.next() % UInt64(country.ipv6.count))]
            let hostBits = 64 - network.prefix
            let high = network.high | (hostBits >= 64 ? random.next() : random.next() & ((1 << UInt64(hostBits)) - 1))
            let groups = [high >> 48, high >> 32 & 0xFFFF, high >> 16 & 0xFFFF, high & 0xFFFF].map { String($0, radix: 16) }
            return Array((groups.joined(separator: ":") + "::" + String(random.next() % 0xFFFF + 1, radix: 16)).utf8)
        }
        let network = country.ipv4[Int(random.next() % UInt64(country.ipv4.count))]
        let hostMask = UInt32.max >> UInt32(network.prefix)
        var address = network.address | (UInt32(truncatingIfNeeded: random.next()) & hostMask)
        if address & 0xFF == 0 || address & 0xFF == 255 { address = address & ~0xFF | 7 }
        return Array("\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)".utf8)
    }

    private static let pages: [((String, String, Int), Double)] = [
        (("/", "GET", 24_000), 8), (("/en/immigration-refugees-citizenship.html", "GET", 41_000), 10),
        (("/en/immigration-refugees-citizenship/services/immigrate-canada.html", "GET", 38_000), 7),
        (("/en/immigration-refugees-citizenship/services/immigrate-canada/express-entry.html", "GET", 52_000), 6),
        (("/en/immigration-refugees-citizenship/services/visit-canada.html", "GET", 35_000), 5),
        (("/en/immigration-refugees-citizenship/services/study-canada.html", "GET", 33_000), 3),
        (("/en/immigration-refugees-citizenship/services/work-canada.html", "GET", 31_000), 3),
        (("/en/immigration-refugees-citizenship/services/application/check-status.html", "GET", 18_000), 4),
        (("/en/immigration-refugees-citizenship/services/come-canada-tool.html?q=eligibility", "GET", 22_000), 2),
        (("/fr/immigration-refugies-citoyennete.html", "GET", 40_000), 3),
        (("/etc/designs/canada/wet-boew/css/theme.min.css", "GET", 68_000), 9),
        (("/etc/designs/canada/wet-boew/js/wet-boew.min.js", "GET", 180_000), 9),
        (("/content/dam/ircc/images/banner.jpg", "GET", 95_000), 6),
        (("/favicon.ico", "GET", 1_150), 5),
        (("/api/status/v2/applications", "POST", 900), 2), (("/account/login", "POST", 2_400), 1.5),
        (("/robots.txt", "GET", 300), 0.5), (("/wp-login.php", "GET", 200), 0.2),
        (("/en/search.html?q=work+permit&lang=en", "GET", 27_000), 1.5), (("/", "HEAD", 0), 0.3),
    ]

    private static let statuses: [(Int, Double)] = [
        (200, 0.838), (304, 0.07), (301, 0.012), (302, 0.02), (404, 0.045), (403, 0.006), (400, 0.003),
        (206, 0.002), (500, 0.0025), (502, 0.0005), (503, 0.0005), (499, 0.0004), (101, 0.0001),
    ]

    private static let referers: [(String, Double)] = [
        ("-", 40), ("https://www.google.com/", 25), ("https://www.canada.ca/en/immigration-refugees-citizenship.html", 20),
        ("https://www.bing.com/", 4), ("https://duckduckgo.com/", 2), ("https://t.co/x3Kz9pQw", 1.5),
        ("https://www.facebook.com/", 2), ("https://www.reddit.com/r/ImmigrationCanada/", 1),
    ]

    private static let agents: [(String, Double)] = [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/54.0.2840.71 Safari/537.36", 30),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 10_1 like Mac OS X) AppleWebKit/602.2.14 (KHTML, like Gecko) Version/10.0 Mobile/14B72 Safari/602.1",
            18
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_1) AppleWebKit/602.2.14 (KHTML, like Gecko) Version/10.0.1 Safari/602.2.14", 10),
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; SM-G920F Build/MMB29K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/54.0.2840.85 Mobile Safari/537.36",
            14
        ),
        ("Mozilla/5.0 (Windows NT 6.1; WOW64; rv:49.0) Gecko/20100101 Firefox/49.0", 8),
        ("Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko", 6),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 3),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 1.5),
        ("curl/7.50.1", 0.5), ("python-requests/2.11.1", 0.5),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/53.0.2785.143 Safari/537.36 \"quoted\"", 0.2),
    ]
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
