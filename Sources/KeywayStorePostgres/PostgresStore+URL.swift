import Foundation
import KeywayCore

extension PostgresStore {
    /// Throws the `DomainError` that `init(url:)` would throw for `url`, without connecting: so that a URL the
    /// client cannot use stops a command as a bad setting, before anything opens.
    public static func checkURL(_ url: String) throws {
        _ = try configuration(url: url)
    }
}
