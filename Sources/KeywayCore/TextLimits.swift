import Foundation

/// The most a free-text field of a request may hold, in UTF-8 bytes (what the databases store): a body of
/// a megabyte fits in one field otherwise, to be stored, listed and searched ever after.
public enum Text {
    /// Names of devices, groups, organizations, users, API keys; external ids.
    public static let name = 255
    public static let location = 255
    /// A device's model.
    public static let model = 100
    /// Remarks and descriptions.
    public static let remarks = 1000
    public static let url = 2048

    /// `value`, or invalidInput naming `field` when it is over `max` bytes. Nil stays nil.
    /// - Throws: `InvalidInput` (400) naming `field`.
    @discardableResult
    public static func limit(_ value: String?, field: String, max: Int) throws -> String? {
        guard let value else { return nil }
        guard value.utf8.count <= max else {
            throw DomainError.invalidInput(field: field, "\(field) must be at most \(max) bytes")
        }
        return value
    }

    /// `value` when it is an absolute `https` URL of at most `Text.url` bytes, or invalidInput naming `field`
    /// (a page showing it would otherwise load it over plain HTTP, or run a `javascript:` one).
    /// - Throws: `InvalidInput` (400) naming `field`.
    @discardableResult
    public static func httpsURL(_ value: String?, field: String) throws -> String? {
        guard let value = try limit(value, field: field, max: url) else { return nil }
        guard let url = URL(string: value), url.scheme?.lowercased() == "https", let host = url.host, !host.isEmpty
        else { throw DomainError.invalidInput(field: field, "\(field) must be an https URL") }
        return value
    }
}

extension Text {
    /// A person's names (users, accounts, invitations accepted).
    static func names(firstName: String?, lastName: String?) throws {
        try limit(firstName, field: "firstName", max: name)
        try limit(lastName, field: "lastName", max: name)
    }
}

extension UserInput {
    /// The lengths of a user's free-text fields.
    func checkTextLimits() throws {
        try Text.names(firstName: firstName, lastName: lastName)
        try Text.limit(description, field: "description", max: Text.remarks)
        try Text.limit(remarks, field: "remarks", max: Text.remarks)
    }
}

extension GroupInput {
    /// The lengths of a group's free-text fields (its name is checked with its other rules).
    func checkTextLimits() throws {
        try Text.limit(remarks, field: "remarks", max: Text.remarks)
        try Text.limit(location, field: "location", max: Text.location)
    }
}
