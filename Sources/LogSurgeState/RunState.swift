import Foundation
import GRDB
import LogSurge
import LogSurgeGeo
import LogSurgeInput
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect

/// A state file that cannot be used: not SQLite, another program's database, damaged, or unwritable.
public struct StateError: Error, CustomStringConvertible {
    public var description: String
}

/// What `--state FILE` remembers between runs, in SQLite: the inputs already read and the
/// per-minute buckets, so that a nightly run reads only what is new and its detectors go on
/// from everything seen before. A ledger, as a log shipper's checkpoints are (Vector's
/// checkpoints, Fluent Bit's offsets database): every line counted once, whatever happens to
/// the files between runs or during one.
///
/// - An input is known by its content, not its name: a hash of its first bytes (decompressed,
///   up to 4 KiB), so that `access.log` renamed to `access.log.1` and later compressed to
///   `access.log.2.gz` is the same input. Two names of one file (device and inode), or a file
///   and its compressed copy side by side, are read once.
/// - Each input is opened once, identified from that descriptor (`fstat`, its first bytes)
///   and read through it: a rotation during the run cannot pair one file's identity with
///   another's offset.
/// - Of each, the state keeps the bytes of content through the last line counted: a last line
///   without its newline (half written) is left for a later run, and so is whatever follows
///   the damage in a gzip file still being written; a later run reads from there. When the
///   raw file (device, inode, size, modification time, as it was opened) has not changed
///   since, it is not read at all.
/// - One run at a time: the state is locked for the whole run; a second run waits (or gives
///   up after `--state-wait` seconds) before reading anything.
///
/// The detectors go on from a snapshot of their own state that each run keeps (an hour before
/// its last minute), stepping the minutes after it; a run that cannot (lines before the
/// snapshot, other detector options) replays their window of history from the buckets kept.
/// Either way they report the events decided in minutes the run added, so the alerts of
/// nightly runs are those of one run over everything, except that an episode still going on
/// at the end of a night stays open (one run over everything closes it at its last minute).
public final class RunState {
    /// The file's path, for messages.
    public let path: String
    private let database: DatabaseQueue
    /// The descriptor that holds the run's lock on the state file (`flock`), for its lifetime.
    private let lock: Int32
    /// "LSRG": marks a logsurge state database (SQLite's `application_id`).
    static let applicationID: Int32 = 0x4C53_5247
    /// 1: inputs and buckets; 2: and the number of runs; 3: a checksum in each row, daily
    /// totals, episodes; 4: the daily totals of every day, those whose minutes are kept too;
    /// 5: a day may be folded over several runs (`folded_before` inside a day, minutes before
    /// it left until a run folds them: a day not folded whole is read as its daily total).
    /// Files of versions 1 and 2 are checked whole and upgraded; of version 3, the minutes; a
    /// file of version 4 is one of version 5. (A build that reads version 4 at most refuses a
    /// version 5 file instead of counting a day half folded twice.) 6: each minute's distinct
    /// clients and busiest client's requests (`clients`, `busiest`, in the row's checksum), so
    /// that detectors that replay their window judge crowds as the first run did; the rows of
    /// a version 5 file are checked and get 0 (not known).
    static let schemaVersion = 6
    /// Bytes of content that identify an input.
    static let fingerprintLength = 4096

    /// Opens (or creates) the state at `path` and locks it for this run; an error names the
    /// file and what is wrong. Another run holding it is waited for, at most `wait` seconds
    /// (nil: as long as it takes); `onWait` is called once when waiting begins.
    ///
    /// Opening reads nothing of the history: each row carries its own checksum, verified when
    /// the row is read (`logsurge state` verifies every row, and SQLite's structure). The
    /// detectors' snapshot, for `detectors` (the run's options), is decoded on another thread
    /// while the run reads its inputs (`restoredDetectors` waits for it).
    public init(
        path: String, wait: Double? = nil, detectors configuration: DetectorConfiguration? = nil,
        onWait: () -> Void = {}
    ) throws(StateError) {
        self.path = path
        lock = try Self.acquire(path, wait: wait, onWait: onWait)
        do {
            database = try DatabaseQueue(path: path, configuration: Self.configuration(readonly: false))
            // A new state gives back the pages its folds free (set before any table, and outside
            // a transaction, or SQLite ignores it).
            try database.writeWithoutTransaction { db in
                if try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") == 0 {
                    try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                }
            }
            try database.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    let application = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                    let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                    let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                    if application == 0 && version == 0 && tables == 0 {
                        try Self.create(db)
                        return .commit
                    }
                    try Self.checkIdentity(db, path: path, application: application, version: version)
                    // What changes here is committed; otherwise the transaction is rolled back,
                    // which costs no sync of the disk (a nightly run's time is milliseconds).
                    var changed = !(try db.tableExists("detector"))
                    if version < Self.schemaVersion {
                        try Self.upgrade(db, from: version, path: path)
                        changed = true
                    }
                    // A write now (SQLite makes its journal beside the file): a state that cannot be
                    // written fails before any input is read, not after.
                    try db.execute(sql: "PRAGMA user_version = \(Self.schemaVersion)")
                    // What a run reads of the state is checked now, before any input: the inputs
                    // and the detectors' window before the last minute (a run that adds older
                    // minutes has their window checked when it reads it).
                    try Self.checkRows(db, path: path, table: "input", checksum: Self.inputChecksum)
                    try db.execute(sql: Self.detectorTable)
                    detectors = try Self.storedDetectors(db, path: path)
                    if let configuration, let bytes = detectors?.bytes { decoding = Decoding(bytes, configuration: configuration) }
                    // No minute a log can give lies outside `UTCMinute.supported` (nor, so, does
                    // arithmetic on one overflow): one that does is damage, said before any input.
                    let last = try Int64.fetchOne(db, sql: "SELECT max(minute) FROM bucket").map { try Self.storedMinute($0, path: path) }
                    if let last {
                        // Read now (each row checked as it is), for the detectors of a run that adds
                        // minutes after these: the minutes after their snapshot, else their window.
                        // (Saturating, though `last` is a minute a log can give, far from either end of Int32.)
                        let from =
                            detectors.map { $0.through == .max ? .max : $0.through + 1 } ?? last.subtractingSaturating(Self.historyMinutes)
                        preloaded = (from, try Self.storedBuckets(db, from: from, path: path))
                    }
                    let lastDay = try Int64.fetchOne(db, sql: "SELECT max(day) FROM day_bucket")
                    lastStored = try last ?? lastDay.map { try Self.dayMinute($0, path: path) + 1439 }
                    return changed ? .commit : .rollback
                }
            }
        } catch let error as StateError {
            close(lock)
            throw error
        } catch let error as DatabaseError {
            close(lock)
            throw StateError(description: "\(path): not a usable state file: \(error.message ?? "\(error.resultCode)")")
        } catch {
            close(lock)
            throw StateError(description: "\(path): not a usable state file: \(error)")
        }
    }

    /// The connection's configuration: the row checksum function is part of every connection.
    private static func configuration(readonly: Bool) -> Configuration {
        var configuration = Configuration()
        configuration.label = "logsurge-state"
        configuration.readonly = readonly
        configuration.prepareDatabase { db in
            db.add(function: rowChecksum)
            db.add(function: addBytes)
        }
        return configuration
    }

    /// A logsurge state of a version this program reads, or an error naming what it is.
    private static func checkIdentity(_ db: Database, path: String, application: Int32, version: Int) throws {
        guard application == applicationID else {
            throw StateError(description: "\(path): not a logsurge state file (another program's SQLite database)")
        }
        guard (1...schemaVersion).contains(version) else {
            throw StateError(description: "\(path): state file version \(version); this logsurge reads versions 1 to \(schemaVersion)")
        }
    }

    deinit {
        for input in pinned { close(input) }
        close(lock)
    }

    /// An exclusive `flock` on the state file itself (created empty when missing: SQLite takes
    /// an empty file for a new database). SQLite's own locks are POSIX record locks, which
    /// `flock` does not touch; they guard a transaction, this guards the whole run.
    private static func acquire(_ path: String, wait: Double?, onWait: () -> Void) throws(StateError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard fd >= 0 else {
            // O_NOFOLLOW: a link at the state's name (planted, or made by hand) is not written through.
            if errno == ELOOP { throw StateError(description: "\(path): the state file is a symbolic link: name the file itself") }
            throw StateError(description: "\(path): cannot open the state file: \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw StateError(description: "\(path): the state file is not a regular file")
        }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return fd }
        guard errno == EWOULDBLOCK else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw StateError(description: "\(path): cannot lock the state file: \(message)")
        }
        onWait()
        let deadline = wait.map { Date().addingTimeInterval($0) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if let deadline, Date() >= deadline {
                close(fd)
                throw StateError(
                    description:
                        "\(path): another logsurge run holds this state file (waited \(Self.seconds(wait ?? 0)) s, --state-wait); nothing was read"
                )
            }
            usleep(50_000)
        }
        return fd
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    private static func create(_ db: Database) throws {
        try db.execute(
            sql: """
                PRAGMA application_id = \(applicationID);
                PRAGMA user_version = \(schemaVersion);
                CREATE TABLE input (
                    fingerprint INTEGER NOT NULL,   -- FNV-1a of the first prefix_length bytes of content
                    prefix_length INTEGER NOT NULL,
                    path TEXT NOT NULL,             -- where it was last seen
                    device INTEGER NOT NULL, inode INTEGER NOT NULL, size INTEGER NOT NULL, modified INTEGER NOT NULL,
                    consumed INTEGER NOT NULL,      -- bytes of content through the last line counted
                    PRIMARY KEY (fingerprint, prefix_length));
                CREATE TABLE bucket (
                    minute INTEGER NOT NULL, site TEXT NOT NULL, country TEXT NOT NULL,
                    requests INTEGER NOT NULL, status_2xx INTEGER NOT NULL, status_3xx INTEGER NOT NULL,
                    status_4xx INTEGER NOT NULL, status_5xx INTEGER NOT NULL, bytes INTEGER NOT NULL,
                    PRIMARY KEY (minute, site, country)) WITHOUT ROWID;
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                INSERT INTO meta (key, value) VALUES ('runs', 0);
                """)
        try addVersion3(db)
        try addVersion4(db, path: "")
        try addVersion6(db, path: "")
        try db.execute(sql: detectorTable)
        // (the steps above mark the versions they make)
        try db.execute(sql: "PRAGMA user_version = \(schemaVersion)")
    }

    /// The detectors' own state at the end of a run (`DetectionEngine.snapshot`), so that the
    /// next run steps only the minutes after it. A cache: a state without it (older runs, a
    /// snapshot of another build or configuration) replays the detectors' window instead, so
    /// it needs no new version (a version-3 program ignores it, and a snapshot it left behind
    /// is stepped on through the minutes that program added).
    static let detectorTable = """
        CREATE TABLE IF NOT EXISTS detector (
            name TEXT PRIMARY KEY NOT NULL,
            through INTEGER NOT NULL,       -- the last minute the detectors stepped
            data BLOB NOT NULL,
            checksum INTEGER NOT NULL)
        """
    static let detectorChecksum = "logsurge_row_checksum(name, through, data)"

    /// The detectors' snapshot, its row checked against its checksum; nil without one, or when
    /// minutes after it were folded into daily totals (stepping on would skip them).
    private static func storedDetectors(_ db: Database, path: String) throws -> (through: Int32, bytes: [UInt8])? {
        // Each row checked as `checkRows` would, in the one pass that reads it (the blob is large).
        var engine: (through: Int32, bytes: [UInt8])?
        for row in try Row.fetchAll(db, sql: "SELECT name, through, data, checksum FROM detector") {
            // Hashed as SQLite holds the values (as `logsurge_row_checksum` does), and taken
            // apart only once they match: a value of another type is damage, not a trap.
            let values = Array(row.databaseValues)
            guard checksumHolds(values) else {
                throw StateError(description: "\(path): state file damaged: a row of detector does not match its checksum")
            }
            guard case .string(let name) = values[0].storage, name == "engine" else { continue }
            guard case .int64(let through) = values[1].storage, let through = UTCMinute.checked(Int(through)),
                case .blob(let data) = values[2].storage
            else { throw StateError(description: "\(path): state file damaged: the detectors' row holds values of other types") }
            engine = (through, [UInt8](data))
        }
        guard let engine else { return nil }
        if let foldedBefore = try Int32.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'folded_before'"),
            Int(foldedBefore) > Int(engine.through) + 1
        {
            return nil
        }
        return engine
    }

    /// The detectors as the last run left them (its snapshot), for a run whose first new minute
    /// is `firstNew` and whose sites are `sites`, with the minute they stepped last; nil when
    /// there is none, when it is of another build or `configuration`, when the run adds
    /// minutes at or before that minute (late lines, an old archive), or when its sites and
    /// theirs are more than the detectors check (which are checked is then chosen by traffic
    /// over the history): the detectors then replay their window.
    public func restoredDetectors(
        configuration: DetectorConfiguration, firstNew: Int32,
        sites: some Sequence<String>
    ) -> (engine: DetectionEngine, through: Int32)? {
        let decoded = decoding.flatMap { $0.configuration == configuration ? $0.engine() : nil }
        decoding = nil
        guard let detectors, firstNew > detectors.through,
            let engine = decoded ?? DetectionEngine.restored(from: detectors.bytes, configuration: configuration),
            engine.checksEvery(sites)
        else { return nil }
        return (engine, detectors.through)
    }

    /// A snapshot being decoded on another thread (it takes milliseconds: as long as a
    /// nightly run's reading).
    private final class Decoding: @unchecked Sendable {
        let configuration: DetectorConfiguration
        private let done = DispatchGroup()
        /// Written by the decoding thread before `done` is left, read after it is waited for.
        private var decoded: DetectionEngine?

        init(_ bytes: [UInt8], configuration: DetectorConfiguration) {
            self.configuration = configuration
            done.enter()
            DispatchQueue.global().async { [self] in
                decoded = DetectionEngine.restored(from: bytes, configuration: configuration)
                done.leave()
            }
        }

        /// The engine, once decoded (nil when the snapshot was refused).
        func engine() -> DetectionEngine? {
            done.wait()
            return decoded
        }
    }
    private var decoding: Decoding?

    /// The snapshot read at open.
    private var detectors: (through: Int32, bytes: [UInt8])?

    /// Minutes before the last of a run that its detectors' snapshot leaves to step again: the
    /// minute still being written and lines logged out of order (a request logged when it
    /// ends) come in the next run without making it replay the whole window.
    public static let replayMinutes: Int32 = 60

    /// Version 3: a checksum in every row (so that no run reads the whole history to check
    /// it), minutes older than `minuteRetention` folded into daily totals, and the ids of the
    /// episodes reported.
    private static func addVersion3(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE input_v3 (
                    fingerprint INTEGER NOT NULL, prefix_length INTEGER NOT NULL, path TEXT NOT NULL,
                    device INTEGER NOT NULL, inode INTEGER NOT NULL, size INTEGER NOT NULL, modified INTEGER NOT NULL,
                    consumed INTEGER NOT NULL,
                    head BLOB,                      -- the first bytes of content (up to 4 KiB)
                    compressed INTEGER NOT NULL DEFAULT 0,
                    checksum INTEGER NOT NULL DEFAULT 0,
                    -- two files with the same first bytes (twins) are two inputs
                    PRIMARY KEY (fingerprint, prefix_length, device, inode));
                INSERT INTO input_v3 (fingerprint, prefix_length, path, device, inode, size, modified, consumed)
                    SELECT fingerprint, prefix_length, path, device, inode, size, modified, consumed FROM input;
                DROP TABLE input;
                ALTER TABLE input_v3 RENAME TO input;
                ALTER TABLE bucket ADD COLUMN checksum INTEGER NOT NULL DEFAULT 0;
                UPDATE input SET checksum = \(inputChecksum);
                UPDATE bucket SET checksum = \(bucketChecksum("minute"));
                CREATE TABLE day_bucket (
                    day INTEGER NOT NULL, site TEXT NOT NULL, country TEXT NOT NULL,
                    requests INTEGER NOT NULL, status_2xx INTEGER NOT NULL, status_3xx INTEGER NOT NULL,
                    status_4xx INTEGER NOT NULL, status_5xx INTEGER NOT NULL, bytes INTEGER NOT NULL,
                    checksum INTEGER NOT NULL,
                    PRIMARY KEY (day, site, country)) WITHOUT ROWID;
                CREATE TABLE episode (
                    kind TEXT NOT NULL, site TEXT NOT NULL, country TEXT NOT NULL, start INTEGER NOT NULL,
                    id INTEGER NOT NULL, closed INTEGER NOT NULL,
                    PRIMARY KEY (kind, site, country, start)) WITHOUT ROWID;
                INSERT OR IGNORE INTO meta (key, value) VALUES ('runs', 0);
                INSERT OR IGNORE INTO meta (key, value) VALUES ('next_alert_id', 1);
                DELETE FROM meta WHERE key = 'checksum';
                PRAGMA user_version = 3;
                """)
    }

    /// Version 4: `day_bucket` holds the totals of every day, also of the days whose minutes
    /// are kept (a run adds its minutes to both), so that folding a day is deleting its
    /// minutes: no run reads and sums a day of minutes again. `folded_before` is the first
    /// minute still kept as a minute (the days before it are daily totals only).
    private static func addVersion4(_ db: Database, path: String) throws {
        // Version 3 kept a day either as minutes or as its total, and folded the minutes
        // `minuteRetention` before the last at every run: those before that cutoff are daily
        // totals only. The minutes' days are added (summed by the bytes of their names, as
        // SQLite keeps them apart).
        let last = try Int32.fetchOne(db, sql: "SELECT max(minute) FROM bucket")
        let lastDay = try Int32.fetchOne(db, sql: "SELECT max(day) FROM day_bucket")
        if let foldedBefore = last.map({ day(Int32(clamping: Int($0) - Int(minuteRetention))) * 1440 }) ?? lastDay.map({ ($0 + 1) * 1440 })
        {
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('folded_before', ?)", arguments: [foldedBefore])
        }
        try checkRows(db, path: path, table: "bucket", checksum: bucketChecksum("minute"))
        let statement = try db.makeStatement(
            sql: """
                INSERT INTO day_bucket (day, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes, checksum)
                VALUES (?1, CAST(?2 AS TEXT), CAST(?3 AS TEXT), ?4, ?5, ?6, ?7, ?8, ?9,
                        logsurge_row_checksum(?1, CAST(?2 AS TEXT), CAST(?3 AS TEXT), ?4, ?5, ?6, ?7, ?8, ?9))
                """)
        for (key, counts) in try minuteSums(db, fromDay: nil, path: path).sorted(by: { $0.key.day < $1.key.day }) {
            try statement.execute(arguments: [
                key.day, key.site, key.country, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5],
            ])
        }
        try db.execute(sql: "PRAGMA user_version = 4")
    }

    /// Days as the UTC calendar has them, before 1970 too (division rounding down).
    static func day(_ minute: Int32) -> Int32 { Int32((Int(minute) - Int(minute).modulo(1440)) / 1440) }

    /// Adds `buckets` to the daily totals, by day, site and country; the rows added to are
    /// checked first (a sum would hide their damage).
    private static func addDays(_ db: Database, of buckets: MinuteBuckets, path: String) throws {
        struct Key: Hashable { var day: Int32, site: String, country: CountryCode }
        var days: [Key: BucketCounts] = [:]
        var range: ClosedRange<Int32>?
        for row in buckets.sortedRows() {
            let day = day(row.minute)
            days[Key(day: day, site: row.site, country: row.country), default: BucketCounts()].merge(row.counts)
            range = range.map { min($0.lowerBound, day)...max($0.upperBound, day) } ?? day...day
        }
        guard let range else { return }
        try checkRows(
            db, path: path, table: "day_bucket", checksum: bucketChecksum("day"),
            where: "day BETWEEN ? AND ?", arguments: [range.lowerBound, range.upperBound])
        let add = try addition(db, table: "day_bucket", time: "day")
        for (key, counts) in days.sorted(by: {
            ($0.key.day, $0.key.site, $0.key.country.description) < ($1.key.day, $1.key.site, $1.key.country.description)
        }) {
            try add(key.day, key.site, key.country, counts, nil)
        }
    }

    /// A file of an earlier version, checked as that version did, then upgraded.
    private static func upgrade(_ db: Database, from version: Int, path: String) throws {
        if version <= 2 {
            let check = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "?"
            guard check == "ok" else { throw StateError(description: "\(path): state file damaged: \(check)") }
            let stored = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'checksum'")
            guard stored == (try legacyChecksum(db)) else {
                throw StateError(description: "\(path): state file damaged: its contents do not match their checksum")
            }
            try addVersion3(db)
        }
        if version <= 3 { try addVersion4(db, path: path) }
        if version <= 5 { try addVersion6(db, path: path) }
        if version <= 2 {
            // The ids earlier runs reported came from the detectors run over every bucket: run
            // once more (with the default options), they give the episodes their ids, so that
            // the next episode is numbered after them.
            let history = try storedBuckets(db, from: nil, path: path)
            for event in DetectionRun(DetectionPolicy(closesAtEnd: false)).run(history).events {
                try keepEpisode(db, event)
            }
        }
    }

    /// Version 6: the clients of each minute's bucket. Rows already there are checked with the
    /// checksum they were written with, then given 0 (not known: a crowd is then judged by
    /// the counts) and their new checksum.
    private static func addVersion6(_ db: Database, path: String) throws {
        try checkRows(db, path: path, table: "bucket", checksum: bucketChecksum("minute"))
        try db.execute(
            sql: """
                ALTER TABLE bucket ADD COLUMN clients INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE bucket ADD COLUMN busiest INTEGER NOT NULL DEFAULT 0;
                UPDATE bucket SET checksum = \(minuteChecksum);
                PRAGMA user_version = 6;
                """)
    }

    /// Keeps `event`'s episode and id (closed once any of its events closed it), and the next
    /// id past it.
    private static func keepEpisode(_ db: Database, _ event: AlertEvent) throws {
        try db.execute(
            sql: """
                INSERT INTO episode (kind, site, country, start, id, closed) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (kind, site, country, start) DO UPDATE SET closed = max(closed, excluded.closed)
                """,
            arguments: [
                event.kind.rawValue, event.site, event.country?.description ?? "", event.start, event.id,
                event.state == .closed ? 1 : 0,
            ])
        // Its rows as other configurations saw it (another start) close with it.
        if event.state == .closed { try db.execute(sql: "UPDATE episode SET closed = 1 WHERE id = ?", arguments: [event.id]) }
        try db.execute(sql: "UPDATE meta SET value = max(value, ?) WHERE key = 'next_alert_id'", arguments: [event.id + 1])
    }

    /// FNV-1a over every value of the inputs and buckets, in key order: versions 1 and 2 kept
    /// this one checksum of everything.
    static func legacyChecksum(_ db: Database) throws -> Int64 {
        // The same FNV-1a as a row's, run over every value of every row.
        var hash = RowHash()
        for sql in ["SELECT * FROM input ORDER BY fingerprint, prefix_length", "SELECT * FROM bucket ORDER BY minute, site, country"] {
            let rows = try Row.fetchCursor(db, sql: sql)
            while let row = try rows.next() {
                for value in row.databaseValues { hash.mix(value) }
            }
        }
        return hash.value
    }

    /// `logsurge_row_checksum(value, …)`: FNV-1a over the values, each ended by a separator.
    static let rowChecksum = DatabaseFunction("logsurge_row_checksum", argumentCount: nil, pure: true) { values in
        checksum(of: values)
    }

    /// `logsurge_row_checksum` of `values`, as SQLite holds them.
    static func checksum(of values: some Sequence<DatabaseValue>) -> Int64 {
        var hash = RowHash()
        for value in values { hash.mix(value) }
        return hash.value
    }

    /// Whether the last of a row's values (its `checksum` column, an integer) is the checksum of
    /// the others: how a row read in Swift is checked, in the pass that reads it.
    // (Not inlined: where it was, Swift 6.3's optimiser trapped, CopyPropagation.)
    @inline(never)
    static func checksumHolds(_ values: [DatabaseValue]) -> Bool {
        guard let stored = values.last.flatMap(integer) else { return false }
        var hash = RowHash()
        for value in values.dropLast() { hash.mix(value) }
        return stored == hash.value
    }

    /// FNV-1a over values, each ended by a separator: the row checksum, in SQL
    /// (`logsurge_row_checksum`) and where rows are read (no second pass over them).
    struct RowHash {
        private var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        mutating func mix(_ bytes: some Sequence<UInt8>) {
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
            hash ^= 0xFF
            hash &*= 0x0000_0100_0000_01B3
        }
        mutating func mix(_ number: Int64) { withUnsafeBytes(of: number.littleEndian) { mix($0) } }
        mutating func mix(_ text: String) { mix(text.utf8) }
        mutating func mix(_ value: DatabaseValue) {
            switch value.storage {
            case .null: mix([0])
            case .int64(let number): mix(number)
            case .double(let number): withUnsafeBytes(of: number.bitPattern.littleEndian) { mix($0) }
            case .string(let text): mix(text)
            case .blob(let data): data.withUnsafeBytes { mix($0) }
            }
        }
        var value: Int64 { Int64(bitPattern: hash) }
    }

    /// The checksum of an input row, of a bucket row (minute or day), as SQL over its columns.
    static let inputChecksum =
        "logsurge_row_checksum(fingerprint, prefix_length, path, device, inode, size, modified, consumed, head, compressed)"
    static func bucketChecksum(_ time: String) -> String {
        "logsurge_row_checksum(\(time), site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes)"
    }
    /// The checksum of a minute's bucket row since version 6 (with its clients).
    static let minuteChecksum =
        "logsurge_row_checksum(minute, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes, clients, busiest)"

    /// Minutes kept as minutes; older ones are folded into daily totals. 35 days: the
    /// detectors read 8 (`historyMinutes`), `logsurge state --buckets` gives five weeks.
    public static let minuteRetention: Int32 = 35 * 1440
    /// Minutes of history the detectors are given before the first minute a run adds: their
    /// longest memory (7 days and the daily window) and a day to settle.
    public static let historyMinutes: Int32 = 9 * 1440

    /// An error naming the state when any row of `table` (those `condition` selects, with
    /// `arguments`) does not match `checksum`, the SQL of its row checksum.
    private static func checkRows(
        _ db: Database, path: String, table: String, checksum: String,
        where condition: String = "true", arguments: StatementArguments = []
    ) throws {
        let damaged =
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM \(table) WHERE (\(condition)) AND checksum != \(checksum)",
                arguments: arguments) ?? 0
        guard damaged == 0 else {
            throw StateError(description: "\(path): state file damaged: \(damaged) rows of \(table) do not match their checksums")
        }
    }

    /// One input as this run finds it: its identity when it was opened, and how much of it
    /// earlier runs read.
    public struct Input {
        public var path: String
        /// The descriptor it was identified from and is read through (the state's: closed
        /// with it).
        public var descriptor: Int32
        var fingerprint: Int64
        var prefixLength: Int
        var raw: RawIdentity
        var compressed: Bool
        /// Its first bytes of content (up to `fingerprintLength`).
        var head: [UInt8]
        /// Bytes of an unterminated last line an earlier run held back, of a file unchanged since.
        var heldBack: Int64 = 0
        /// Bytes of content read before; `AnalyzeConfiguration.Resume.readBefore` when unchanged since.
        public var resumeAt: Int64
        /// The identity it had in the state (replaced once this run has read it).
        var known: (fingerprint: Int64, prefixLength: Int, device: Int64, inode: Int64)?
    }

    /// An input of the run's paths that is not read: another name of a file read under its
    /// first name, or a copy of another (a compressed copy beside it) with the same content.
    public struct Duplicate {
        public var path: String
        public var of: String
        /// The same file (device and inode), rather than the same content.
        public var sameFile: Bool
    }

    struct RawIdentity: Equatable {
        var device: Int64, inode: Int64, size: Int64, modified: Int64
    }

    /// Descriptors of the inputs identified, open until the state is released.
    private var pinned: [Int32] = []

    /// Opens each file, identifies it from that descriptor and looks it up among the inputs
    /// read before: the one whose first bytes start as this one's do (a log read before, now
    /// longer; or its compressed copy, perhaps still being written). A file that vanished
    /// since it was listed (rotated away: found under its new name next time) or is empty is
    /// not read this run; one that cannot be opened is an error for the run to report. Another
    /// name of a file already among them, or a copy with the same content, is returned as a
    /// duplicate (the plain copy is read, as a compressed one may still be being written).
    public func identify(
        _ paths: [String], reader: InputReader
    ) throws(StateError)
        -> (inputs: [Input], duplicates: [Duplicate], unusable: [InputError])
    {
        var opened: [Input] = []
        var duplicates: [Duplicate] = []
        var unusable: [InputError] = []
        // Each file opened and its first bytes read.
        for path in paths {
            let (descriptor, raw): (Int32, RawIdentity)
            switch Self.openInput(path) {
            case .opened(let fd, let identity): (descriptor, raw) = (fd, identity)
            case .gone: continue
            case .unusable(let message):
                unusable.append(InputError(path: path, offset: nil, message: message))
                continue
            }
            if let first = opened.first(where: { $0.raw.device == raw.device && $0.raw.inode == raw.inode }) {
                close(descriptor)
                duplicates.append(Duplicate(path: path, of: first.path, sameFile: true))
                continue
            }
            let (content, compressed) = Self.leadingContent(descriptor, reader: reader)
            // Nothing in it yet: what is written from now on waits for the next run.
            guard !content.isEmpty else {
                close(descriptor)
                continue
            }
            pinned.append(descriptor)
            let prefixLength = min(content.count, Self.fingerprintLength)
            opened.append(
                Input(
                    path: path, descriptor: descriptor, fingerprint: Self.fingerprint(content.prefix(prefixLength)),
                    prefixLength: prefixLength, raw: raw, compressed: compressed, head: content, resumeAt: 0))
        }
        do {
            try database.read { db in
                let known = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT fingerprint, prefix_length, head, compressed, device, inode, size, modified, consumed FROM input
                        """)
                func consistent(_ index: Int, _ content: [UInt8]) -> Bool {
                    let row = known[index]
                    if let head = row["head"] as Data? { return Self.sameStart(Array(head), content) }
                    let length: Int = row["prefix_length"]
                    return length > 0 && length <= content.count && Self.fingerprint(content.prefix(length)) == row["fingerprint"]
                }
                func take(_ index: Int, for input: inout Input) {
                    let row = known[index]
                    input.known = (row["fingerprint"], row["prefix_length"], row["device"], row["inode"])
                    let before = RawIdentity(device: row["device"], inode: row["inode"], size: row["size"], modified: row["modified"])
                    input.resumeAt = before == input.raw ? AnalyzeConfiguration.Resume.readBefore : row["consumed"]
                    // Unchanged, and still ending in a line without its newline: said again.
                    if before == input.raw, !input.compressed { input.heldBack = max(0, input.raw.size - (row["consumed"] as Int64)) }
                }
                // First each file's own row: the same device and inode, the content going on
                // from its first bytes.
                var claimed = Set<Int>()
                for position in opened.indices {
                    let input = opened[position]
                    if let index = known.indices.first(where: {
                        known[$0]["device"] == input.raw.device && known[$0]["inode"] == input.raw.inode
                            && consistent($0, input.head)
                    }) {
                        claimed.insert(index)
                        take(index, for: &opened[position])
                    }
                }
                // Then another file's row, for a file this one continues (renamed across devices,
                // compressed, copied by copytruncate) and no file of this run claimed.
                for position in opened.indices where opened[position].known == nil {
                    let input = opened[position]
                    let index = known.indices.filter { index in
                        !claimed.contains(index) && consistent(index, input.head)
                            && Self.sameLog(
                                known[index]["head"] as Data?, rowCompressed: (known[index]["compressed"] as Int?) == 1,
                                input.head, compressed: input.compressed)
                    }.max { (known[$0]["consumed"] as Int64) < (known[$1]["consumed"] as Int64) }
                    if let index {
                        claimed.insert(index)
                        take(index, for: &opened[position])
                    }
                }
            }
        } catch {
            throw StateError(description: "\(path): cannot read the state: \(error)")
        }
        // A compressed copy beside its plain file (its content begins as the plain file's, or
        // the other way round: logrotate compressing) is the same log: the plain file is read.
        var inputs: [Input] = []
        for input in opened {
            if let other = inputs.firstIndex(where: { $0.compressed != input.compressed && Self.sameStart($0.head, input.head) }) {
                if input.compressed {
                    duplicates.append(Duplicate(path: input.path, of: inputs[other].path, sameFile: false))
                } else {
                    duplicates.append(Duplicate(path: inputs[other].path, of: input.path, sameFile: false))
                    inputs[other] = input
                }
                continue
            }
            inputs.append(input)
        }
        return (inputs, duplicates, unusable)
    }

    /// Identifies the files `paths` name (`identify`) and sets `configuration` to read what is
    /// new of each through the descriptor it was identified from, each file once, holding back
    /// a last line without its newline; returns the inputs for `record`. Only the files
    /// identified are read: one that appears, or is renamed into a listed name, meanwhile waits
    /// for the next run.
    public func prepare(_ configuration: inout AnalyzeConfiguration, paths: [String]) throws(StateError) -> [Input] {
        let found = AnalysisPipeline.leavingOut(configuration.reading.ownFiles, from: InputDiscovery.expand(paths))
        let files = found.compactMap { result -> String? in
            if case .success(.file(let path)) = result { path } else { nil }
        }
        let (inputs, duplicates, unusable) = try identify(files, reader: InputReader())
        let identified = Set((inputs.map(\.path) + duplicates.map(\.path)).map(PathKey.init))
        let errors = Dictionary(unusable.map { (PathKey($0.path), $0) }, uniquingKeysWith: { first, _ in first })
        configuration.resume.sources = found.compactMap { result in
            guard case .success(let source) = result else { return result }
            guard case .file(let path) = source else {
                return .failure(InputError(path: source.displayName, offset: nil, message: "--state reads files"))
            }
            if let error = errors[PathKey(path)] { return .failure(error) }
            return identified.contains(PathKey(path)) ? result : nil
        }
        configuration.resume.pinnedFiles = Dictionary(
            inputs.map { (PathKey($0.path), $0.descriptor) }, uniquingKeysWith: { first, _ in first })
        configuration.resume.copies = Dictionary(
            duplicates.filter { !$0.sameFile }.map { (PathKey($0.path), $0.of) },
            uniquingKeysWith: { first, _ in first })
        configuration.resume.resumeAt = Dictionary(
            inputs.filter { $0.resumeAt > 0 }.map { (PathKey($0.path), $0.resumeAt) },
            uniquingKeysWith: { first, _ in first })
        configuration.resume.holdsBackUnterminatedLines = true
        configuration.resume.heldBackBefore = Dictionary(
            inputs.filter { $0.heldBack > 0 }.map { (PathKey($0.path), $0.heldBack) },
            uniquingKeysWith: { first, _ in first })
        return inputs
    }

    /// The buckets of earlier runs from `minute` on, each row checked against its checksum:
    /// those read when the state was opened, and any before them.
    public func buckets(from minute: Int32) throws(StateError) -> MinuteBuckets {
        if let (from, held) = preloaded, minute >= from { return held }
        do {
            return try database.read { db in
                guard let (from, held) = preloaded else { return try Self.storedBuckets(db, from: minute, path: path) }
                var buckets = try Self.storedBuckets(db, from: minute, before: from, path: path)
                buckets.merge(held)
                return buckets
            }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(description: "\(path): cannot read the state: \(error)")
        }
    }

    /// The detectors' window before the last minute, read when the state was opened.
    private var preloaded: (from: Int32, buckets: MinuteBuckets)?

    /// The last minute the state held when it was opened (of its daily totals, the day's
    /// last), nil when empty.
    public func lastMinute() throws(StateError) -> Int32? { lastStored }
    private var lastStored: Int32?

    /// Gives the events a run reports the ids they have in the state: an episode reported
    /// before (same kind, site, country and start) keeps its id, a new one takes the next.
    /// The ids are kept with the buckets by `record`.
    public func stableIDs(_ events: [AlertEvent]) throws(StateError) -> [AlertEvent] {
        guard !events.isEmpty else { return events }
        do {
            return try database.read { db in
                var next = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'next_alert_id'") ?? 1
                var given: [Int: Int] = [:]
                return try events.map { event in
                    var event = event
                    let known = try self.reported(db, event)?.id
                    let id = known ?? given[event.id] ?? next
                    if known == nil && given[event.id] == nil { next += 1 }
                    given[event.id] = id
                    event.id = id
                    episodes.append(event)
                    return event
                }
            }
        } catch {
            throw StateError(description: "\(path): cannot read the state: \(error)")
        }
    }

    /// `events` less those an earlier run reported: an opening of an episode it knows (same
    /// kind, site, country and start), a closing of one it closed.
    public func unreported(_ events: [AlertEvent]) throws(StateError) -> [AlertEvent] {
        guard !events.isEmpty else { return events }
        do {
            return try database.read { db in
                try events.filter { event in
                    let known = try self.reported(db, event)
                    return event.state == .open ? known == nil : known?.closed != true
                }
            }
        } catch {
            throw StateError(description: "\(path): cannot read the state: \(error)")
        }
    }

    /// The episode of `event` as an earlier run reported it (same kind, site, country and
    /// start, or, for an event that started in minutes earlier runs read, the one of that kind,
    /// site and country they left open that started within `datingTolerance` of it: a replay
    /// under another configuration may date its start otherwise, and an episode a night that
    /// stopped watching its country never closed is not a new one's): its id, and whether its
    /// close was reported too.
    private func reported(_ db: Database, _ event: AlertEvent) throws -> (id: Int, closed: Bool)? {
        let key: [any DatabaseValueConvertible] = [event.kind.rawValue, event.site, event.country?.description ?? ""]
        if let row = try Row.fetchOne(
            db, sql: "SELECT id, closed FROM episode WHERE kind = ? AND site = ? AND country = ? AND start = ?",
            arguments: StatementArguments(key + [event.start]))
        {
            return (row["id"], (row["closed"] as Int) != 0)
        }
        guard let lastStored, event.start <= lastStored else { return nil }
        return try Row.fetchOne(
            db,
            sql: """
                SELECT id, closed FROM episode WHERE kind = ? AND site = ? AND country = ? AND closed = 0 AND start <= ?
                AND start BETWEEN ? AND ? ORDER BY start DESC LIMIT 1
                """,
            arguments: StatementArguments(
                key + [lastStored, Int(event.start) - Self.datingTolerance, Int(event.start) + Self.datingTolerance])
        )
        .map { ($0["id"], ($0["closed"] as Int) != 0) }
    }

    /// Of `events` (the opening events of episodes going on), those an earlier run reported,
    /// with the ids they were reported with.
    public func reportedEarlier(_ events: [AlertEvent]) throws(StateError) -> [AlertEvent] {
        guard !events.isEmpty else { return [] }
        do {
            return try database.read { db in
                try events.compactMap { event in
                    guard let known = try self.reported(db, event) else { return nil }
                    var event = event
                    event.id = known.id
                    return event
                }
            }
        } catch {
            throw StateError(description: "\(path): cannot read the state: \(error)")
        }
    }

    /// How far apart, in minutes, two configurations may date the start of one episode (a
    /// rush ramping up over an hour: 31 minutes between the default watch and `all`).
    static let datingTolerance = 120

    /// Events given ids by `stableIDs`, kept by `record`.
    private var episodes: [AlertEvent] = []

    /// Records what this run read: each input's identity as it was opened and the bytes of
    /// content through the last line it counted (also of an input that could not be read to
    /// its end: what came before the damage was counted), its buckets and the episodes it
    /// reported; then folds minutes past `minuteRetention` into daily totals, as many as it
    /// added and more (`foldBudget`). One transaction, whose cost follows what the run read,
    /// not the history.
    ///
    /// `detectors`: the detectors' snapshot and the last minute they stepped, kept for the next run.
    public func record(_ inputs: [Input], analysis: Analysis, detectors: (through: Int32, bytes: [UInt8])? = nil) throws(StateError) {
        let reports = Dictionary(analysis.inputs.map { (PathKey($0.name), $0) }, uniquingKeysWith: { first, _ in first })
        do {
            try database.write { db in
                for input in inputs {
                    guard let report = reports[PathKey(input.path)], let stats = report.stats else { continue }
                    if input.resumeAt == AnalyzeConfiguration.Resume.readBefore { continue }
                    let consumed = max(input.resumeAt, stats.linesEnd)
                    if let known = input.known {
                        try db.execute(
                            sql: "DELETE FROM input WHERE fingerprint = ? AND prefix_length = ? AND device = ? AND inode = ?",
                            arguments: [known.fingerprint, known.prefixLength, known.device, known.inode])
                    }
                    try db.execute(
                        sql: """
                            INSERT OR REPLACE INTO input (fingerprint, prefix_length, path, device, inode, size, modified, consumed, head,
                                                          compressed, checksum)
                            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, logsurge_row_checksum(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10))
                            """,
                        arguments: [
                            input.fingerprint, input.prefixLength, input.path,
                            input.raw.device, input.raw.inode, input.raw.size, input.raw.modified, consumed,
                            Data(input.head), input.compressed ? 1 : 0,
                        ])
                }
                let add = try Self.addition(db, table: "bucket", time: "minute")
                var added = 0
                for row in analysis.buckets.sortedRows() {
                    try add(row.minute, row.site, row.country, row.counts, row.clients)
                    added += 1
                }
                try Self.addDays(db, of: analysis.buckets, path: path)
                for event in episodes { try Self.keepEpisode(db, event) }
                if let detectors {
                    try db.execute(
                        sql: """
                            INSERT OR REPLACE INTO detector (name, through, data, checksum)
                            VALUES ('engine', ?1, ?2, logsurge_row_checksum('engine', ?1, ?2))
                            """, arguments: [detectors.through, Data(detectors.bytes)])
                }
                try Self.fold(db, budget: Self.foldBudget(added: added))
                try db.execute(sql: "UPDATE meta SET value = value + 1 WHERE key = 'runs'")
            }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(description: "\(path): cannot write the state: \(error)")
        }
        try? shrink()
    }

    /// Gives the pages freed by folds back when they are a quarter of the file or more (the
    /// first run over a year of logs frees most of what it wrote): incrementally in a state
    /// made so, by one `VACUUM` (which makes it so) in an older one. The state is whole
    /// either way; a failure leaves it as large as it was.
    private func shrink() throws {
        try database.writeWithoutTransaction { db in
            let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            guard free >= 256, free * 4 >= pages else { return }
            if try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") == 2 {
                try db.execute(sql: "PRAGMA incremental_vacuum")
            } else {
                try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL; VACUUM")
            }
        }
    }

    /// A function that adds counts to the row of `table` (`bucket` or `day_bucket`) at `time`
    /// (a minute or a day), site and country, creating it when missing; the row's checksum is
    /// computed from its new values. A minute's row adds its clients too (ignored for a day).
    private static func addition(
        _ db: Database, table: String, time: String
    ) throws
        -> (Int32, String, CountryCode, BucketCounts, ClientFigures?) throws -> Void
    {
        // The sums and their checksum from the row's old values (SET reads them all).
        // (Bytes as `BucketCounts` adds them: unsigned, saturating; SQL's + would make a real
        // number of a total past 2^63.)
        var columns = ["requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx", "bytes"]
        var sums =
            ["requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx"].map { "\($0) + excluded.\($0)" }
            + ["logsurge_add_bytes(bytes, excluded.bytes)"]
        let withClients = table == "bucket"
        if withClients {
            // A minute counted over two runs (half written at the first): its clients as the sum
            // of both runs' and its busiest client as the sum of both busiest (upper bounds: the
            // same client may come in both), neither above the requests.
            columns += ["clients", "busiest"]
            sums += ["clients", "busiest"].map { "min(\($0) + excluded.\($0), requests + excluded.requests)" }
        }
        let values = (1...(3 + columns.count)).map { "?\($0)" }.joined(separator: ", ")
        let statement = try db.makeStatement(
            sql: """
                INSERT INTO \(table) (\(time), site, country, \(columns.joined(separator: ", ")), checksum)
                VALUES (\(values), logsurge_row_checksum(\(values)))
                ON CONFLICT (\(time), site, country) DO UPDATE SET
                    \(zip(columns, sums).map { "\($0) = \($1)" }.joined(separator: ", ")),
                    checksum = logsurge_row_checksum(\(time), site, country, \(sums.joined(separator: ", ")))
                """)
        return { time, site, country, c, clients in
            var arguments: StatementArguments = [
                time, site, country.description, Int64(c.requests), Int64(c.status2xx),
                Int64(c.status3xx), Int64(c.status4xx), Int64(c.status5xx), Int64(bitPattern: c.bytes),
            ]
            if withClients { arguments += [Int64(clients?.distinct ?? 0), Int64(clients?.busiest ?? 0)] }
            try statement.execute(arguments: arguments)
        }
    }

    /// The minute rows a run that added `added` of them deletes at most when it folds: twice
    /// as many, and a floor. A nightly run's cost then follows what it read: one that adds a
    /// line deletes a thousand rows, not the day of rows that aged out meanwhile (which
    /// would cost more than the run); one that adds a day of steady traffic folds up to two.
    /// The rows held never grow past the most the state held: while some wait to be folded,
    /// every run deletes more than it adds (a run that adds nothing still folds up to the
    /// floor). The cost of quiet nights is a backlog: minutes past the 35 days that wait for
    /// busier ones (a state of 20 sites after 40 one-line nights holds 196,000 rows where it
    /// would hold 5,000). Until a day is folded whole it is read as its daily total, and
    /// `logsurge state` neither counts nor exports the minutes of it that are left.
    static func foldBudget(added: Int) -> Int { 2 * added + 1024 }

    /// Folds minutes older than `minuteRetention` before the last one into the daily totals
    /// (which hold them already: their rows are deleted), the oldest first, whole minutes, up
    /// to `budget` rows; `folded_before` is the first minute not folded. A day may so be
    /// folded over several runs: until it is whole, it is read as its daily total.
    private static func fold(_ db: Database, budget: Int) throws {
        guard let last = try Int32.fetchOne(db, sql: "SELECT max(minute) FROM bucket") else { return }
        let cutoff = Self.day(Int32(clamping: Int(last) - Int(Self.minuteRetention))) * 1440
        guard let first = try Int32.fetchOne(db, sql: "SELECT min(minute) FROM bucket"), first < cutoff else { return }
        // The minute of the row `budget` rows in: the fold stops before it (after it, when
        // one minute holds more rows than the budget).
        let beyond = try Int32.fetchOne(
            db, sql: "SELECT minute FROM bucket WHERE minute < ? ORDER BY minute LIMIT 1 OFFSET ?",
            arguments: [cutoff, budget])
        let end = beyond.map { max($0, first + 1) } ?? cutoff
        try db.execute(sql: "DELETE FROM bucket WHERE minute < ?", arguments: [end])
        try db.execute(
            sql: """
                INSERT INTO meta (key, value) VALUES ('folded_before', ?1)
                ON CONFLICT (key) DO UPDATE SET value = max(value, ?1)
                """, arguments: [end])
    }

    /// What a state file holds, for `logsurge state FILE`.
    public struct Contents {
        public struct KnownInput {
            public var path: String
            public var bytesConsumed: Int64
            public var size: Int64
            public var device: Int64
            public var inode: Int64
        }
        /// Inputs by the path they were last read under.
        public var inputs: [KnownInput]
        /// Requests in all its buckets, minutes and daily totals: each line ever counted, once.
        public var requests: Int64
        public var minutes: ClosedRange<Int32>?
        /// The first minute still held as a minute (earlier ones are daily totals).
        public var minutesFrom: Int32?
        public var runs: Int64
    }

    /// Reads the state at `path` without changing it (and without waiting for a run that
    /// holds it: SQLite shows what the last run that finished left), checking all of it:
    /// SQLite's structure and every row's checksum. A missing, damaged or foreign file is an
    /// error naming it.
    public static func inspect(_ path: String) throws(StateError) -> (Contents, MinuteBuckets) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw StateError(description: "\(path): no such state file") }
        // A FIFO or a device would block SQLite or feed it anything.
        guard status.st_mode & S_IFMT == S_IFREG else { throw StateError(description: "\(path): not a state file (not a regular file)") }
        do {
            let database = try DatabaseQueue(path: path, configuration: configuration(readonly: true))
            return try database.read { db in
                let application = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                try checkIdentity(db, path: path, application: application, version: version)
                guard version >= 3 else {
                    throw StateError(description: "\(path): state file version \(version): the next --state run upgrades it")
                }
                let check = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "?"
                guard check == "ok" else { throw StateError(description: "\(path): state file damaged: \(check)") }
                // (Minutes without their clients before version 6, which the next run upgrades.)
                let minuteSum = version >= 6 ? minuteChecksum : bucketChecksum("minute")
                for (table, sum) in [("input", inputChecksum), ("bucket", minuteSum), ("day_bucket", bucketChecksum("day"))] {
                    try checkRows(db, path: path, table: table, checksum: sum)
                }
                // Written by the first run that kept one (a state of older runs has none).
                if try db.tableExists("detector") {
                    try checkRows(db, path: path, table: "detector", checksum: detectorChecksum)
                }
                let inputs = try Row.fetchAll(db, sql: "SELECT path, consumed, size, device, inode FROM input ORDER BY path").map {
                    Contents.KnownInput(
                        path: $0["path"], bytesConsumed: $0["consumed"], size: $0["size"], device: $0["device"], inode: $0["inode"])
                }
                // The days held only as daily totals, a day being folded among them; the days
                // after them are held as minutes too. (Version 3 held minutes, and the days
                // before them as daily totals.)
                let foldedBefore =
                    version == 3
                    ? nil
                    : try Int32.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'folded_before'") ?? Int32.min
                let minutesFrom = foldedBefore.map { Int64(day($0)) * 1440 + (Int($0).modulo(1440) == 0 ? 0 : 1440) } ?? Int64(Int32.min)
                let minutesFromDay = Int32(clamping: minutesFrom / 1440)
                let buckets = try storedBuckets(db, from: Int32(clamping: minutesFrom), path: path, clients: version >= 6)
                let minutes = "bucket WHERE minute >= \(minutesFrom)"
                let minuteRequests = try Int64.fetchOne(db, sql: "SELECT coalesce(sum(requests), 0) FROM \(minutes)") ?? 0
                let firstMinute = try Int64.fetchOne(db, sql: "SELECT min(minute) FROM \(minutes)").map { try storedMinute($0, path: path) }
                let lastMinute = try Int64.fetchOne(db, sql: "SELECT max(minute) FROM \(minutes)").map { try storedMinute($0, path: path) }
                let folded = foldedBefore == nil ? "day_bucket" : "day_bucket WHERE day < \(minutesFromDay)"
                let dayRequests = try Int64.fetchOne(db, sql: "SELECT coalesce(sum(requests), 0) FROM \(folded)") ?? 0
                let firstDay = try Int64.fetchOne(db, sql: "SELECT min(day) FROM \(folded)")
                let lastDay = try Int64.fetchOne(db, sql: "SELECT max(day) FROM \(folded)")
                if version > 3 { try checkDays(db, from: minutesFromDay, path: path) }
                // A daily total stands for its day: its first and last minute, which a log can give.
                let first = try firstDay.map { try dayMinute($0, path: path) } ?? firstMinute
                let last = try lastMinute ?? lastDay.map { try dayMinute($0, path: path) + 1439 }
                let runs = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'runs'") ?? 0
                let contents = Contents(
                    inputs: inputs, requests: minuteRequests + dayRequests,
                    minutes: first.flatMap { first in last.map { first...$0 } }, minutesFrom: firstMinute, runs: runs)
                return (contents, buckets)
            }
        } catch let error as StateError {
            throw error
        } catch let error as DatabaseError where FileManager.default.fileExists(atPath: path + "-journal") {
            // A run that failed to write (a full disk) left its rollback journal: reading it back
            // needs a write, which this reading does not make.
            throw StateError(
                description:
                    "\(path): the last run did not finish writing it (\(path)-journal is beside it: \(error.message ?? "\(error.resultCode)")); the next --state run undoes that write"
            )
        } catch let error as DatabaseError {
            throw StateError(description: "\(path): not a usable state file: \(error.message ?? "\(error.resultCode)")")
        } catch {
            throw StateError(description: "\(path): not a usable state file: \(error)")
        }
    }

    /// A day's site and country as SQLite holds them: their bytes (two spellings of one name
    /// that Swift holds equal, é composed and decomposed, are two rows to SQLite).
    struct DayKey: Hashable {
        var day: Int32
        var site: Data
        var country: Data
    }

    /// The six counts of a bucket row as stored (bytes: the bit pattern of an unsigned total).
    typealias StoredCounts = [Int64]

    /// The bytes column as stored: the bit pattern of an unsigned total, or (a row that older
    /// versions summed past 2^63) a real number, taken as its unsigned value, saturating.
    static func storedBytes(_ value: DatabaseValue) -> UInt64 {
        switch value.storage {
        case .int64(let bits): UInt64(bitPattern: bits)
        // (A sum past 2^63 of two totals under it is positive; one of two totals past 2^63,
        // which are negative as bit patterns, is negative and saturates.)
        case .double(let number): number >= 0x1p64 || number < 0 ? .max : UInt64(number)
        default: 0
        }
    }

    /// The bytes of a value read `CAST(… AS BLOB)`.
    static func blob(_ value: DatabaseValue) -> Data {
        if case .blob(let bytes) = value.storage { return bytes }
        return Data()
    }

    /// An integer as stored; nil for a value of another type.
    static func integer(_ value: DatabaseValue) -> Int64? {
        if case .int64(let number) = value.storage { return number }
        return nil
    }

    /// `logsurge_add_bytes(a, b)`: two stored byte totals added as `BucketCounts` adds them
    /// (unsigned, saturating), stored again as a bit pattern.
    static let addBytes = DatabaseFunction("logsurge_add_bytes", argumentCount: 2, pure: true) { values in
        let (sum, overflow) = storedBytes(values[0]).addingReportingOverflow(storedBytes(values[1]))
        return Int64(bitPattern: overflow ? .max : sum)
    }

    /// The first minute of a stored day, which must be a day of `UTCMinute.supported` (no
    /// minute a log can give lies outside, nor, so, does arithmetic on one overflow): one that
    /// is not is damage, said, not a trap.
    static func dayMinute(_ day: Int64, path: String) throws(StateError) -> Int32 {
        try storedMinute((-(1 << 40)...(1 << 40)).contains(day) ? day * 1440 : .max, path: path)
    }

    /// A stored minute, which must be one of `UTCMinute.supported` (as `dayMinute`).
    static func storedMinute(_ minute: Int64, path: String) throws(StateError) -> Int32 {
        guard let minute = UTCMinute.checked(Int(minute)) else {
            throw StateError(description: "\(path): state file damaged: a minute or day outside the years 0000-3999")
        }
        return minute
    }

    /// The minutes kept from `firstDay` on (all for nil), summed by day, site and country as the
    /// daily totals sum them (counts added, bytes saturating): what those totals must hold.
    private static func minuteSums(_ db: Database, fromDay firstDay: Int32?, path: String) throws -> [DayKey: StoredCounts] {
        var sums: [DayKey: StoredCounts] = [:]
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT minute, CAST(site AS BLOB), CAST(country AS BLOB), requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes
                FROM bucket WHERE minute >= ?
                """, arguments: [firstDay.map { Int64($0) * 1440 } ?? Int64(Int32.min)])
        while let row = try rows.next() {
            // Values of another type (a row made by hand) are damage, not a trap.
            let values = Array(row.databaseValues)
            var numbers: [Int64] = []
            for index in [0, 3, 4, 5, 6, 7] {
                if let number = integer(values[index]) { numbers.append(number) }
            }
            guard numbers.count == 6, let minute = UTCMinute.checked(Int(numbers[0])) else {
                throw StateError(description: "\(path): state file damaged: a row of bucket holds values of other types")
            }
            let key = DayKey(day: day(minute), site: blob(values[1]), country: blob(values[2]))
            var sum = sums[key] ?? [0, 0, 0, 0, 0, 0]
            for column in 0..<5 { sum[column] &+= numbers[column + 1] }
            let (total, overflow) = UInt64(bitPattern: sum[5]).addingReportingOverflow(storedBytes(values[8]))
            sum[5] = Int64(bitPattern: overflow ? .max : total)
            sums[key] = sum
        }
        return sums
    }

    /// Checks that the daily totals from `firstDay` on are the sums of the minutes kept: each
    /// run adds its lines to both.
    private static func checkDays(_ db: Database, from firstDay: Int32, path: String) throws {
        var sums = try minuteSums(db, fromDay: firstDay, path: path)
        var differing = Set<Int32>()
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT day, CAST(site AS BLOB), CAST(country AS BLOB), requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes
                FROM day_bucket WHERE day >= ?
                """, arguments: [firstDay])
        while let row = try rows.next() {
            let values = Array(row.databaseValues)
            let day = Int32(clamping: integer(values[0]) ?? Int64(Int32.min))
            var counts: [Int64] = []
            for index in 3...7 { counts.append(integer(values[index]) ?? -1) }
            counts.append(Int64(bitPattern: storedBytes(values[8])))
            let key = DayKey(day: day, site: blob(values[1]), country: blob(values[2]))
            if sums.removeValue(forKey: key) != counts { differing.insert(day) }
        }
        differing.formUnion(sums.keys.map(\.day))
        guard let day = differing.min() else { return }
        // (Proleptic Gregorian, as the minutes are: Foundation's dates before 1582 are Julian.)
        let date = UTCMinute.format(Int32(clamping: Int(day) * 1440)).split(separator: "T")[0]
        throw StateError(
            description:
                "\(path): state file damaged: the daily totals of \(differing.count) days (the first \(date)) are not the sums of their minutes"
        )
    }

    /// The minute buckets the state holds from `minute` on (all for nil) and before `end`,
    /// each row checked against its checksum as it is read.
    /// (`clients`: the rows have their clients, version 6 on; before, they are not known.)
    private static func storedBuckets(
        _ db: Database, from minute: Int32?, before end: Int32 = .max, path: String, clients: Bool = true
    ) throws -> MinuteBuckets {
        var buckets = MinuteBuckets()
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT minute, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes,
                    \(clients ? "clients, busiest," : "") checksum FROM bucket
                WHERE minute >= ? AND minute < ?
                """, arguments: [minute ?? Int32.min, end])
        var damaged = 0, otherTypes = 0
        while let row = try rows.next() {
            // Hashed as SQLite holds the values (as `logsurge_row_checksum` does), then taken
            // apart: a value of another type or out of range (forged with its checksum) is
            // damage, never a trap. Bytes are read as `storedBytes` reads them.
            let values = Array(row.databaseValues)
            guard checksumHolds(values) else {
                damaged += 1
                continue
            }
            var counts: [UInt64] = []
            for index in [3, 4, 5, 6, 7] + (clients ? [9, 10] : []) {
                if case .int64(let count) = values[index].storage, count >= 0 { counts.append(UInt64(count)) }
            }
            if !clients { counts += [0, 0] }
            // The clients as counting made them: none above the requests.
            guard counts.count == 7, counts[5] <= counts[0], counts[6] <= counts[0], case .int64(let minute) = values[0].storage,
                let minute = UTCMinute.checked(Int(minute)), case .string(let site) = values[1].storage,
                case .string(let country) = values[2].storage
            else {
                otherTypes += 1
                continue
            }
            buckets.add(
                minute: minute, site: site, country: CountryCode(isoCode: country) ?? .unknown,
                counts: BucketCounts(
                    requests: counts[0], status2xx: counts[1], status3xx: counts[2], status4xx: counts[3],
                    status5xx: counts[4], bytes: storedBytes(values[8])),
                clients: ClientTally(reported: ClientFigures(distinct: Int(counts[5]), busiest: Int(counts[6]))))
        }
        guard otherTypes == 0 else {
            throw StateError(description: "\(path): state file damaged: \(otherTypes) rows of bucket hold values of other types")
        }
        guard damaged == 0 else {
            throw StateError(description: "\(path): state file damaged: \(damaged) rows of bucket do not match their checksums")
        }
        return buckets
    }

    // MARK: - Identity

    /// What opening an input found.
    enum Opened {
        case opened(Int32, RawIdentity)
        /// Not there any more (renamed or removed since it was listed).
        case gone
        /// There, but not a regular file that can be read.
        case unusable(String)
    }

    /// Opens `path` when it is a regular file (looked at first, and opened without waiting,
    /// so that a FIFO put in its place cannot block), with its identity from that descriptor.
    static func openInput(_ path: String) -> Opened {
        var before = stat()
        guard SystemPath.stat(path, &before) == 0 else {
            return errno == ENOENT ? .gone : .unusable("cannot open: \(String(cString: strerror(errno)))")
        }
        guard before.st_mode & S_IFMT == S_IFREG else { return .unusable("not a regular file: --state reads files") }
        let descriptor = SystemPath.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return errno == ENOENT ? .gone : .unusable("cannot open: \(String(cString: strerror(errno)))") }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            return .unusable("not a regular file: --state reads files")
        }
        let modified = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        return .opened(
            descriptor,
            RawIdentity(
                device: Int64(bitPattern: UInt64(status.st_dev)), inode: Int64(bitPattern: UInt64(status.st_ino)),
                size: Int64(status.st_size), modified: modified))
    }

    /// The first bytes of content (decompressed) of the file open as `descriptor`, up to
    /// `fingerprintLength`, and whether it is gzip. Read with pread and a duplicate
    /// descriptor rewound afterwards: the file is then read from its start.
    static func leadingContent(_ descriptor: Int32, reader: InputReader) -> ([UInt8], compressed: Bool) {
        // Plain text as it is on disk (a last line may still be growing).
        var raw = [UInt8](repeating: 0, count: fingerprintLength)
        let count = raw.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, 0) }
        guard count >= 0 else { return ([], false) }
        raw.removeLast(raw.count - count)
        if !(count >= 2 && raw[0] == 0x1F && raw[1] == 0x8B) { return (raw, false) }
        // gzip: its first lines, inflated.
        struct Enough: Error {}
        var content: [UInt8] = []
        var small = InputReader(
            targetChunkSize: fingerprintLength, maxLineLength: reader.maxLineLength, readSize: 16 << 10,
            inflater: .zlib)
        // Of a gzip file cut short (still being written), the lines before the cut: its first
        // bytes are then how the whole file begins.
        small.holdsBackUnterminatedLine = true
        _ = try? small.read(.file(""), pinned: descriptor) { chunk in
            content += chunk.bytes
            if content.count >= fingerprintLength { throw Enough() }
        }
        return (Array(content.prefix(fingerprintLength)), true)
    }

    /// Whether another file's row is this log: its first bytes are how this content begins (or
    /// the other way round), and that says enough: across a compression (plain and gzip) at
    /// any length, else (a copytruncate copy, a rename across devices) only from 1 KiB or
    /// for the whole content alike, so that two small logs that begin with the same line are
    /// not taken for one.
    static func sameLog(_ head: Data?, rowCompressed: Bool, _ content: [UInt8], compressed: Bool) -> Bool {
        guard let head else { return true }  // an earlier version's row: by its fingerprint
        let stored = Array(head)
        guard sameStart(stored, content) else { return false }
        return rowCompressed != compressed || compressed || min(stored.count, content.count) >= 1024 || stored == content
    }

    /// Whether two contents start the same: the shorter (not empty) is how the longer begins.
    static func sameStart(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard !a.isEmpty, !b.isEmpty else { return false }
        return a.count <= b.count ? b.starts(with: a) : a.starts(with: b)
    }

    /// FNV-1a, 64 bits, as a signed integer for SQLite.
    static func fingerprint(_ bytes: some Sequence<UInt8>) -> Int64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: hash)
    }
}

private extension Int {
    /// The remainder of division rounding down: in 0..<divisor for a positive divisor.
    func modulo(_ divisor: Int) -> Int { ((self % divisor) + divisor) % divisor }
}

extension Int32 {
    /// `self - other`, or `Int32.min` when that overflows.
    fileprivate func subtractingSaturating(_ other: Int32) -> Int32 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? .min : difference
    }
}
