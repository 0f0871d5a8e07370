/// The version of logsurge, as `--version` prints it.
public enum LogSurgeVersion {
    public static let string = "0.1.0"
}
