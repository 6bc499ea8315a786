import Foundation
import KeywayCore
import KeywayTestSupport
import NIOHTTP1
import Synchronization
import Testing

/// Crash safety: concurrent creates and updates against a real `keyway serve`, SIGKILL in the middle,
/// restart on the same database; every write that was answered 200 is there, and none is half-applied.
@Suite("Crash safety", .sharingTheMachineAsOneSuite, .serialized, .timeLimit(.minutes(5)))
struct CrashTests {
    final class Acknowledged: Sendable {
        let created = Mutex<[String: Int]>([:])  // externalId -> shareId
        let updated = Mutex<Set<Int>>([])  // shares whose update (externalId + schedule together) was answered 200
        /// Set just before the SIGKILL: from then on a failed request means the server is gone.
        let killed = Mutex(false)
        /// Requests that got no answer before the kill (each writer carries on after one).
        let failures = Mutex<[String]>([])

        /// Whether a writer whose request got no answer stops: once the server is killed, or after 100 failures.
        func stops(after method: String, _ body: [String: Any]) -> Bool {
            if killed.withLock({ $0 }) { return true }
            return failures.withLock {
                $0.append("\(method): \(body["error"] ?? "")")
                return $0.count > 100
            }
        }
    }

    /// The status and JSON object of the answer; status 0 and `{"error": ...}` when there was none.
    static func send(
        _ method: String, _ url: String, key: String, json: String?, timeout: TimeInterval = 30
    ) async -> (Int, [String: Any]) {
        do {
            let response = try await SocketClient.send(
                HTTPMethod(rawValue: method), url, key: key, json: json, timeout: timeout)
            return (response.status, response.object)
        } catch {
            return (0, ["error": "\(error)"])
        }
    }

    static func start(_ database: String) async throws -> (CommandLineTests.Run, String, String) {
        try await CommandLineTests.serveDemo(
            ["--database-connections", "8"] + (try await TestDatabase.commandLineArguments(path: database)))
    }

    @Test func sigkillMidWayLosesNoAnsweredWriteAndHalfAppliesNone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = directory.file("crash.sqlite")
        let (server, base, key) = try await Self.start(database)
        let acknowledged = Acknowledged()
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var mine: [Int] = []
                        for n in 0..<10_000 {
                            if Task.isCancelled { return }
                            if n % 2 == 1, let id = mine.randomElement() {
                                // Two fields in one write: both or neither may survive.
                                let (status, body) = await Self.send(
                                    "PUT", "\(base)/v2/shares/\(id)", key: key,
                                    json:
                                        #"{"externalId": "updated-\#(id)", "schedule": [{"dayOfWeek": "Monday", "recurrence": "Weekly"}]}"#
                                )
                                if status == 200 { _ = acknowledged.updated.withLock { $0.insert(id) } }
                                if status == 0, acknowledged.stops(after: "PUT", body) { return }
                                continue
                            }
                            let externalID = "crash-\(writer)-\(n)"
                            let (status, body) = await Self.send(
                                "POST", "\(base)/v2/shares", key: key,
                                json:
                                    #"{"organizationId": 1, "source": {"deviceId": 1}, "receiver": {"userId": 4}, "externalId": "\#(externalID)"}"#
                            )
                            if status == 200, let id = body["shareId"] as? Int {
                                acknowledged.created.withLock { $0[externalID] = id }
                                mine.append(id)
                            }
                            if status == 0, acknowledged.stops(after: "POST", body) { return }
                        }
                    }
                }
            }
        }
        // Let the writers get going, then kill the server without warning.
        let deadline = Date().addingTimeInterval(180)
        while acknowledged.created.withLock({ $0.count }) < 150, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        acknowledged.killed.withLock { $0 = true }
        kill(server.process.processIdentifier, SIGKILL)
        let failures = acknowledged.failures.withLock { $0 }
        // (A busy machine may time a request out now and then; the writers carry on after it.)
        try #require(
            acknowledged.created.withLock({ $0.count }) >= 150,
            "too few writes answered before the deadline; unanswered: \(failures.count), \(failures.prefix(3))")
        await writers.value
        #expect(try await server.exitStatus() != nil)

        let (again, newBase, newKey) = try await Self.start(database)
        defer { again.process.terminate() }
        let created = acknowledged.created.withLock { $0 }
        let updated = acknowledged.updated.withLock { $0 }
        #expect(!updated.isEmpty, "no update was answered before the kill")
        // Read everything back, page by page.
        var shares: [[String: Any]] = []
        var offset = 0
        while true {
            let page = try await SocketClient.send(.GET, "\(newBase)/v2/shares?size=100&offset=\(offset)", key: newKey)
                .objects
            shares += page
            if page.count < 100 { break }
            offset += 100
        }
        let byID = Dictionary(shares.compactMap { share in (share["id"] as? Int).map { ($0, share) } }) { a, _ in a }
        for (externalID, id) in created {
            let share = byID[id]
            #expect(share != nil, "answered create \(externalID) (share \(id)) is lost")
            let stored = share?["externalId"] as? String
            #expect(stored == externalID || stored == "updated-\(id)")
        }
        for id in updated {
            #expect(byID[id]?["externalId"] as? String == "updated-\(id)", "answered update of \(id) is lost")
        }
        // No share is half-updated: the new externalId and the schedule are together or not at all.
        for share in shares {
            let isUpdated = (share["externalId"] as? String)?.hasPrefix("updated-") == true
            let hasSchedule = !((share["schedule"] as? [Any]) ?? []).isEmpty
            if (share["externalId"] as? String)?.hasPrefix("crash-") == true || isUpdated {
                #expect(isUpdated == hasSchedule, "half-applied: \(share)")
            }
        }
    }
}
