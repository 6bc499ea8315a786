/// A typed identifier: a `ShareID` cannot be passed where a `DeviceID` is expected.
///
/// Ids are positive 64-bit integers assigned by the store, as Bold's are.
public struct EntityID<Entity>: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

public typealias OrganizationID = EntityID<Organization>
public typealias AccountID = EntityID<Account>
public typealias UserID = EntityID<User>
public typealias UserGroupID = EntityID<UserGroup>
public typealias DeviceID = EntityID<Device>
public typealias DeviceGroupID = EntityID<DeviceGroup>
public typealias ShareID = EntityID<Share>
public typealias APIKeyID = EntityID<APIKey>
