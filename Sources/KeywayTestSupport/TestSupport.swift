import Foundation
import KeywayCore
import Synchronization

/// A clock tests set and move by hand.
public final class FixedTime: TimeSource {
    private let current: Mutex<Date>
    public init(_ date: Date) { current = Mutex(date) }
    /// 2026-03-10T09:33:38.112874Z, the instant of the share in Bold's documentation.
    public convenience init() { self.init(Date(timeIntervalSince1970: 1_773_135_218.112874)) }
    public func now() -> Date { current.withLock { $0 } }
    public func set(_ date: Date) { current.withLock { $0 = date } }
    public func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// Predictable UUIDs (00000000-0000-4000-8000-000000000001, ...) and bytes, so tests can name them.
public final class SequenceRandom: RandomSource {
    private let counter = Mutex<UInt64>(0)
    public init() {}
    public func uuid() -> UUID {
        let n = counter.withLock { value in
            value += 1
            return value
        }
        let hex = String(n, radix: 16)
        let tail = String(repeating: "0", count: 12 - hex.count) + hex
        return UUID(uuidString: "00000000-0000-4000-8000-\(tail)") ?? UUID()
    }
    public func bytes(_ count: Int) -> [UInt8] {
        let n = counter.withLock { value in
            value += 1
            return value
        }
        return (0..<count).map { UInt8(truncatingIfNeeded: Int(n) &+ $0) }
    }
}

/// A temporary folder for database files, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String
    public init() throws {
        path = NSTemporaryDirectory() + "keyway-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    public func file(_ name: String) -> String { path + "/" + name }
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Two organizations with the same shape, so every test can also check that one cannot see the other.
///
/// Organization N (1 or 2) has: account N (its creator), devices N*10+1 (lock, Europe/Amsterdam),
/// N*10+2 (lock, no zone) and N*10+3 (gateway), device group N*10+1 holding both locks, users
/// N*10+1 (registered, account N) and N*10+2 (invited), and user group N*10+1 holding both users.
public enum Fixtures {
    public static func organization(_ n: Int64) -> OrganizationID { OrganizationID(n) }
    public static func lock(_ n: Int64) -> DeviceID { DeviceID(n * 10 + 1) }
    public static func secondLock(_ n: Int64) -> DeviceID { DeviceID(n * 10 + 2) }
    public static func gateway(_ n: Int64) -> DeviceID { DeviceID(n * 10 + 3) }
    public static func deviceGroup(_ n: Int64) -> DeviceGroupID { DeviceGroupID(n * 10 + 1) }
    public static func user(_ n: Int64) -> UserID { UserID(n * 10 + 1) }
    public static func invitedUser(_ n: Int64) -> UserID { UserID(n * 10 + 2) }
    public static func userGroup(_ n: Int64) -> UserGroupID { UserGroupID(n * 10 + 1) }

    public static func seed(now: Date) -> Seed {
        var seed = Seed()
        for n: Int64 in [1, 2] {
            let org = organization(n)
            seed.accounts.append(
                Account(
                    id: AccountID(n), firstName: "Owner", lastName: "Number\(n)", emailAddress: "owner\(n)@example.com",
                    dateCreated: now))
            seed.organizations.append(
                Organization(
                    id: org, name: "Org \(n)", personal: false, creatorAccountID: AccountID(n), dateCreated: now))
            seed.devices += [
                Device(
                    id: lock(n), organizationID: org, name: "Front door \(n)", type: .lock,
                    timeZone: "Europe/Amsterdam",
                    location: "Office \(n)", remarks: "Main entrance", actualFirmwareVersion: 120,
                    gatewayID: gateway(n), dateCreated: now),
                Device(id: secondLock(n), organizationID: org, name: "Back door \(n)", type: .lock, dateCreated: now),
                Device(id: gateway(n), organizationID: org, name: "Gateway \(n)", type: .gateway, dateCreated: now),
            ]
            seed.deviceGroups.append(
                DeviceGroup(
                    id: deviceGroup(n), organizationID: org, name: "Doors \(n)", location: "Office \(n)",
                    dateCreated: now))
            seed.deviceGroupMembers += [
                DeviceGroupMember(groupID: deviceGroup(n), deviceID: lock(n)),
                DeviceGroupMember(groupID: deviceGroup(n), deviceID: secondLock(n)),
            ]
            seed.users += [
                User(
                    id: user(n), organizationID: org, accountID: AccountID(n), firstName: "Owner",
                    lastName: "Number\(n)", emailAddress: "owner\(n)@example.com", superUser: true, dateCreated: now),
                User(
                    id: invitedUser(n), organizationID: org, firstName: "Guest", lastName: "Number\(n)",
                    phoneNumber: "+3161234567\(n)",
                    invitation: Invitation(
                        token: UUID(uuidString: "11111111-1111-4111-8111-00000000000\(n)") ?? UUID(),
                        url: "http://127.0.0.1:8080/invitation/\(n)", expiration: now.addingTimeInterval(86_400)),
                    dateCreated: now),
            ]
            seed.userGroups.append(
                UserGroup(id: userGroup(n), organizationID: org, name: "Team \(n)", dateCreated: now))
            seed.userGroupMembers += [
                UserGroupMember(groupID: userGroup(n), userID: user(n), groupAdmin: true),
                UserGroupMember(groupID: userGroup(n), userID: invitedUser(n)),
            ]
        }
        return seed
    }

    /// A share from organization `n`'s lock to its registered user, ready to insert.
    public static func share(
        _ n: Int64, now: Date, externalID: String? = nil, source: ShareSource? = nil, receiver: ShareReceiver? = nil,
        startDate: LocalDate? = nil, token: UUID = UUID()
    ) -> Share {
        Share(
            id: ShareID(0), organizationID: organization(n), creatorAccountID: AccountID(n), startDate: startDate,
            permissions: Permissions(remoteActivate: true), source: source ?? .device(lock(n)),
            receiver: receiver ?? .user(user(n)), externalID: externalID, token: token, dateCreated: now)
    }
}
