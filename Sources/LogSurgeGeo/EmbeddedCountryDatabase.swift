import CGeoData

/// The country database compiled into the binary (target `CGeoData`, built by
/// Scripts/build-country-db.py from Debian's tor-geoipdb: IPFire Location data, CC BY-SA 4.0).
public enum EmbeddedCountryDatabase {
    /// The database compiled into the binary, read in place (no copy).
    ///
    /// Throws only if the embedded bytes are not a valid database (a broken build).
    public static func open() throws(MMDBError) -> MMDBReader {
        let start = logsurge_country_db()
        let count = Int(logsurge_country_db_size())
        return try MMDBReader(staticBytes: UnsafeRawBufferPointer(start: start, count: count), source: "<embedded>")
    }

    /// The country tables of `reader` from the image embedded beside the database, when
    /// `reader` reads the embedded database; nil for any other database, or when the image is
    /// missing or was made for another database (the tables are then built from the tree).
    /// Decoded once per process (a few milliseconds, about 6 MB kept), however many runs it serves.
    public static func tables(for reader: MMDBReader) -> (ipv4: IPv4CountryTable, ipv6: IPv6CountryTable?)? {
        isEmbedded(reader) ? decodedTables : nil
    }

    private static let decodedTables = identity.flatMap { CountryTableImage.decode(tableImage, database: $0) }

    /// What identifies the embedded database to its table image: the SHA-256 its build script
    /// recorded, and its size, node count and build epoch as the bytes say.
    public static var identity: CountryTableImage.Database? {
        embeddedMetadata.map {
            CountryTableImage.Database(
                sha256: sha256, size: Int(logsurge_country_db_size()), nodeCount: $0.nodeCount,
                buildEpoch: $0.buildEpoch)
        }
    }

    /// The bytes of the embedded table image (a `CountryTableImage`).
    public static var tableImage: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: logsurge_country_tables(), count: Int(logsurge_country_tables_size()))
    }

    /// The SHA-256 (hex) of the embedded database.
    public static var sha256: String { String(cString: logsurge_country_db_sha256()) }

    /// Whether `reader` reads the embedded database.
    static func isEmbedded(_ reader: MMDBReader) -> Bool {
        reader.bytes.baseAddress == UnsafeRawPointer(logsurge_country_db())
    }

    /// The attribution the data's licence requires, naming the source and its Debian version.
    ///
    /// Read from the embedded metadata's English description, so it follows the data when the
    /// database is regenerated.
    public static let attribution: String = {
        let fallback = "IPFire Location database via Debian tor-geoipdb, CC BY-SA 4.0 (https://location.ipfire.org/)"
        let described = embeddedMetadata?.englishDescription ?? fallback
        return "Country data: " + described
    }()

    /// The build date of the embedded data, `YYYY-MM-DD` (from the metadata's build_epoch).
    public static var buildDate: String {
        embeddedMetadata?.buildDate ?? "unknown"
    }

    private static let embeddedMetadata: MMDBMetadata? = try? open().metadata
}
