import Foundation
import KeywayCore

/// `keyway serve --demo`: a small business with locks, a gateway, people and shares of every kind,
/// created once on an empty database (so its organization is id 1), plus a fresh API key each start.
public enum Demo {
    public struct Result: Sendable {
        /// False when the database already had data and the demo was left as it was.
        public var created: Bool
        public var organizationID: OrganizationID
        public var apiKey: String
        /// The OAuth clients registered for the public Bold clients, with their secrets (nil for a public client).
        public var oauthClients: [(id: String, secret: String?, redirectURIs: [String])]
        /// The password of the demo's manager account (`managerEmail`), when this start created it; only its hash
        /// is kept, so later starts cannot show it.
        public var managerPassword: String?
    }

    /// A person who signs in (password grant, or through `/authorize` from a Bold client) as super user of the
    /// demo organization: what a Home Assistant or Homebridge user of the demo signs in with.
    public static let managerEmail = "manager@keyway.example"

    /// The client ids and redirect URIs the public Bold clients sign in with (authorization code): Bold's own
    /// app id, which bold2lox, homebridge-bold-ble and homeassistant-bold-admin use with the app's custom
    /// scheme; Home Assistant's shared redirect (ha-bold, homeassistant_bold, with credentials the user enters);
    /// homebridge-bold's hosted callback.
    public static let oauthClients: [(id: String, name: String, redirectURIs: [String], secret: Bool)] = [
        ("BoldApp", "Bold app", ["boldsmartlock://auth", "com.boldsmartlock://auth"], false),
        ("home-assistant", "Home Assistant", ["https://my.home-assistant.io/redirect/oauth"], true),
        ("HomeBridge", "Homebridge Bold", ["https://bold.nienhuisdevelopment.com/oauth/callback"], true),
    ]

    public static let organizationID = OrganizationID(1)

    public static func install(_ keyway: Keyway) async throws -> Result {
        let seed = makeSeed(
            now: keyway.time.now(), random: keyway.random, zone: keyway.config.defaultTimeZone,
            webKeyBase: keyway.config.resolvedWebKeyBaseURL)
        let created = try await keyway.store.importSeed(seed, onlyIfEmpty: true)
        // The secret of an earlier key cannot be shown again (only its hash is kept), so each start
        // that asks for the demo gets a key of its own.
        let (key, secret) = try await keyway.apiKeys.create(
            organization: organizationID, scopes: Set(Scope.allCases), name: "demo")
        // Registered again at each start, like the API key, so that their secrets can be shown.
        var clients: [(id: String, secret: String?, redirectURIs: [String])] = []
        for client in oauthClients {
            let secret = client.secret ? keyway.oauth.generateSecret() : nil
            try await keyway.oauth.register(
                id: client.id, redirectURIs: client.redirectURIs, secret: secret, name: client.name, replacing: true)
            clients.append((client.id, secret, client.redirectURIs))
        }
        var managerPassword: String?
        if created {
            // Invited by the demo's key as a super user and accepted with a random password, as a person would.
            let password = keyway.oauth.generateSecret()
            var input = UserInput()
            input.organizationID = organizationID.rawValue
            input.emailAddress = managerEmail
            input.firstName = "Demo"
            input.lastName = "Manager"
            input.superUser = true
            input.invitation = .init(sendEmail: false, sendSms: false)
            let user = try await keyway.users.create(input, by: .apiKey(key))
            if let token = user.invitation?.token {
                _ = try await keyway.invitations.accept(
                    token: token, .init(firstName: "Demo", lastName: "Manager", password: password))
                managerPassword = password
            }
        } else {
            // The password printed at creation is long gone (only its hash is kept): a fresh one, like the key.
            let password = keyway.oauth.generateSecret()
            if try await keyway.accounts.setPassword(password, username: managerEmail) { managerPassword = password }
        }
        return Result(
            created: created, organizationID: organizationID, apiKey: secret, oauthClients: clients,
            managerPassword: managerPassword)
    }

    /// The demo graph. Share 1 mirrors the share in Bold's `GET /v2/shares` documentation, key for key.
    public static func makeSeed(now: Date, random: any RandomSource, zone: TimeZone, webKeyBase: String) -> Seed {
        var seed = Seed()
        let amsterdam = "Europe/Amsterdam"
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: amsterdam) ?? zone
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        let today =
            LocalDate(year: parts.year ?? 2026, month: parts.month ?? 1, day: parts.day ?? 1)
            ?? LocalDate(daysSinceEpoch: 20_000)
        let carousel = "https://resources.boldsmartlock.com/carousel-device-images/door_1.jpg"

        // The integration account that creates the demo's keys and shares: Bold shows it by id alone.
        seed.accounts = [
            Account(id: AccountID(1), emailAddress: "owner@keyway.example", dateCreated: now),
            Account(
                id: AccountID(2), emailAddress: "webkey@example.com", phoneNumber: "+40711111301", dateCreated: now),
            Account(
                id: AccountID(3), firstName: "Alice", lastName: "Jansen", emailAddress: "alice@example.com",
                phoneNumber: "+31612345678", language: "nl", dateCreated: now),
        ]
        seed.organizations = [
            Organization(
                id: organizationID, name: "Keyway Demo", personal: false, creatorAccountID: AccountID(1),
                dateCreated: now)
        ]
        seed.devices = [
            Device(
                id: DeviceID(1), organizationID: organizationID, name: "Lock", type: .lock, timeZone: amsterdam,
                location: "Bold Office", remarks: "Remarks", carouselImageURL: carousel, model: "Bold SX-45",
                actualFirmwareVersion: 120, requiredFirmwareVersion: 120, gatewayID: DeviceID(3), dateCreated: now),
            Device(
                id: DeviceID(2), organizationID: organizationID, name: "Back door", type: .lock, timeZone: amsterdam,
                location: "Bold Office", remarks: "Courtyard side", carouselImageURL: carousel, model: "Bold SX-33",
                actualFirmwareVersion: 110, requiredFirmwareVersion: 120, gatewayID: DeviceID(3), dateCreated: now),
            Device(
                id: DeviceID(3), organizationID: organizationID, name: "Gateway", type: .gateway, timeZone: amsterdam,
                location: "Bold Office", model: "Bold Connect", actualFirmwareVersion: 60, requiredFirmwareVersion: 60,
                controller: true, dateCreated: now),
        ]
        seed.deviceGroups = [
            DeviceGroup(
                id: DeviceGroupID(1), organizationID: organizationID, name: "All doors", remarks: "Front and back",
                location: "Bold Office", dateCreated: now)
        ]
        seed.deviceGroupMembers = [
            DeviceGroupMember(groupID: DeviceGroupID(1), deviceID: DeviceID(1)),
            DeviceGroupMember(groupID: DeviceGroupID(1), deviceID: DeviceID(2)),
        ]
        seed.users = [
            User(
                id: UserID(1), organizationID: organizationID, accountID: AccountID(1), superUser: true,
                dateCreated: now),
            User(
                id: UserID(2), organizationID: organizationID, accountID: AccountID(2), phoneNumber: "+40711111301",
                dateCreated: now),
            User(
                id: UserID(3), organizationID: organizationID, accountID: AccountID(3), firstName: "Alice",
                lastName: "Jansen", emailAddress: "alice@example.com", emailAddressVerified: true, dateCreated: now),
            User(
                id: UserID(4), organizationID: organizationID, firstName: "Bob", lastName: "Visser",
                emailAddress: "bob@example.com", emailAddressVerify: true, externalID: "guest-bob",
                invitation: Invitation(
                    token: random.uuid(), url: webKeyBase.replacingOccurrences(of: "/webkey", with: "/invitation"),
                    expiration: now.addingTimeInterval(7 * 86_400), language: "en"),
                dateCreated: now),
        ]
        if let bob = seed.users.last?.invitation {
            seed.users[3].invitation?.url = bob.url + "/" + bob.token.uuidString.lowercased()
        }
        seed.userGroups = [
            UserGroup(
                id: UserGroupID(1), organizationID: organizationID, name: "Staff", remarks: "Office staff",
                dateCreated: now)
        ]
        seed.userGroupMembers = [
            UserGroupMember(groupID: UserGroupID(1), userID: UserID(3), groupAdmin: true),
            UserGroupMember(groupID: UserGroupID(1), userID: UserID(4)),
        ]
        let workdays: [DayOfWeek] = [.monday, .tuesday, .wednesday, .thursday, .friday]
        let officeHours = LocalTime(hour: 8, minute: 0, second: 0).flatMap { start in
            LocalTime(hour: 18, minute: 0, second: 0).map { Period(startTime: start, endTime: $0) }
        }
        let seedTime = LocalTime(hour: 9, minute: 35, second: 38)
        seed.shares = [
            // Bold's documented example: a five-day remote-opening share, found by its externalId.
            Share(
                id: ShareID(1), organizationID: organizationID, creatorAccountID: AccountID(1), startDate: today,
                startTime: seedTime, endDate: today.adding(days: 5), endTime: seedTime,
                permissions: Permissions(remoteActivate: true), source: .device(DeviceID(1)),
                receiver: .user(UserID(2)),
                notifications: false, externalID: "externalId", token: random.uuid(), dateCreated: now),
            // Staff open both doors on weekdays during office hours, with no end date.
            Share(
                id: ShareID(2), organizationID: organizationID, creatorAccountID: AccountID(1), startDate: today,
                schedule: workdays.map { ScheduleEntry(dayOfWeek: $0, period: officeHours, recurrence: .weekly) },
                permissions: Permissions(remoteActivate: true), source: .deviceGroup(DeviceGroupID(1)),
                receiver: .userGroup(UserGroupID(1)), notifications: true, externalID: "staff", token: random.uuid(),
                dateCreated: now),
            // Alice administers the back door, always.
            Share(
                id: ShareID(3), organizationID: organizationID, creatorAccountID: AccountID(1),
                permissions: Permissions(administrate: true, remoteActivate: true, assignKeyfob: true),
                source: .device(DeviceID(2)), receiver: .user(UserID(3)), notifications: true, token: random.uuid(),
                dateCreated: now),
            // Bob, still invited, every other Saturday for a month, with a web key; removed a week after.
            Share(
                id: ShareID(4), organizationID: organizationID, creatorAccountID: AccountID(1), startDate: today,
                endDate: today.adding(days: 30),
                schedule: [ScheduleEntry(dayOfWeek: .saturday, period: nil, recurrence: .biWeekly)],
                permissions: Permissions(remoteActivate: true), source: .device(DeviceID(1)),
                receiver: .user(UserID(4)),
                autoRemoveAfter: .week,
                autoRemoveDate: AutoRemoveAfter.week.added(
                    to: LocalDateTime(date: today.adding(days: 31), time: .midnight).instant(in: calendar.timeZone),
                    calendar: calendar),
                externalID: "booking-1001", token: random.uuid(), webKey: random.uuid(), dateCreated: now),
        ]
        return seed
    }
}
