import GRDB
import KeywaySQL

/// Numbered, append-only migrations. GRDB records each applied name in `grdb_migrations`; never edit
/// or reorder a migration that has shipped, add the next number instead.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("0001_directory_shares_credentials") { db in
            try db.execute(sql: schema0001)
        }
        migrator.registerMigration("0002_device_state") { db in
            try db.execute(sql: schema0002)
        }
        migrator.registerMigration("0003_accounts_sign_in") { db in
            try db.execute(sql: schema0003)
        }
        migrator.registerMigration("0004_outbox") { db in
            try db.execute(sql: schema0004)
        }
        migrator.registerMigration("0005_verification") { db in
            try db.execute(sql: schema0005)
        }
        migrator.registerMigration("0006_events_webhooks_device_state") { db in
            try db.execute(sql: schema0006)
        }
        migrator.registerMigration("0008_webhook_health_activation_slots") { db in
            try db.execute(sql: schema0008)
        }
        migrator.registerMigration("0009_throttles") { db in
            try db.execute(sql: schema0009)
        }
        migrator.registerMigration("0010_outbox_retry_retention") { db in
            try db.execute(sql: schema0010)
        }
        migrator.registerMigration("0011_oauth_clients") { db in
            try db.execute(sql: schema0011)
        }
        migrator.registerMigration("0012_device_telemetry") { db in
            try db.execute(sql: schema0012)
        }
        migrator.registerMigration("0013_controller_keys") { db in
            try db.execute(sql: schema0013)
        }
        // Access revisions (issue 13): triggers that note every write to what access is made of.
        migrator.registerMigration("0014_access_revisions") { db in
            try db.execute(sql: AccessRevisions.sqliteSchema)
        }
        // Why a failing webhook's last attempt failed, for the console (issue 14).
        migrator.registerMigration("0015_webhook_last_error") { db in
            try db.execute(sql: "ALTER TABLE webhooks ADD COLUMN last_error TEXT")
        }
        // Idempotency keys (issue 15): the first answer to a POST, per caller and key, kept a day.
        migrator.registerMigration("0016_idempotency_keys") { db in
            try db.execute(
                sql: """
                    CREATE TABLE idempotency_keys (
                        scope TEXT NOT NULL,
                        key TEXT NOT NULL,
                        fingerprint BLOB NOT NULL,
                        claimed INTEGER NOT NULL,
                        expires INTEGER NOT NULL,
                        status INTEGER,
                        content_type TEXT,
                        body BLOB,
                        PRIMARY KEY (scope, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX idempotency_keys_expires ON idempotency_keys(expires);
                    """)
        }
        // An organization's API keys as an access scope of their own (issue 13): a key's cached verification is
        // no longer made stale by the shares it writes.
        migrator.registerMigration("0017_api_key_scope") { db in
            try db.execute(sql: AccessRevisions.sqliteKeyScopeTriggers)
        }
        // The shares' indexes on columns most shares leave empty hold only the shares that fill them (issue 13).
        migrator.registerMigration("0018_partial_share_indexes") { db in
            try db.execute(sql: ShareIndexes.partialSQL)
        }
        // Housekeeping finds the users to remove and the invitations past their expiry through an index (issue 13).
        migrator.registerMigration("0019_housekeeping_indexes") { db in
            try db.execute(sql: HousekeepingIndexes.sql)
        }
        return migrator
    }

    // Instants are INTEGER microseconds since 1970; local dates and times are ISO text, which sorts.
    // Shares reference their source and receiver together with their organization (composite foreign
    // keys), so the database itself refuses a share whose parts belong to different organizations.
    static let schema0001 = """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            first_name TEXT,
            last_name TEXT,
            email_address TEXT,
            phone_number TEXT,
            language TEXT,
            date_created INTEGER NOT NULL,
            date_modified INTEGER
        );
        CREATE UNIQUE INDEX accounts_email ON accounts(email_address);
        CREATE UNIQUE INDEX accounts_phone ON accounts(phone_number);

        CREATE TABLE organizations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            personal INTEGER NOT NULL DEFAULT 0,
            creator_account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
            date_created INTEGER NOT NULL,
            date_modified INTEGER,
            date_restricted INTEGER
        );

        CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
            first_name TEXT,
            last_name TEXT,
            email_address TEXT,
            email_address_verify INTEGER NOT NULL DEFAULT 0,
            email_address_verified INTEGER NOT NULL DEFAULT 0,
            phone_number TEXT,
            phone_number_verify INTEGER NOT NULL DEFAULT 0,
            phone_number_verified INTEGER NOT NULL DEFAULT 0,
            super_user INTEGER NOT NULL DEFAULT 0,
            external_id TEXT,
            description TEXT,
            remarks TEXT,
            invitation_token TEXT UNIQUE,
            invitation_url TEXT,
            invitation_expiration INTEGER,
            invitation_language TEXT,
            invitation_accepted INTEGER,
            auto_remove_after TEXT,
            date_created INTEGER NOT NULL,
            date_modified INTEGER,
            UNIQUE (organization_id, id)
        );
        CREATE INDEX users_account ON users(account_id);
        CREATE INDEX users_organization_external ON users(organization_id, external_id);

        CREATE TABLE user_groups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            remarks TEXT,
            date_created INTEGER NOT NULL,
            date_modified INTEGER,
            UNIQUE (organization_id, id)
        );

        CREATE TABLE user_group_members (
            group_id INTEGER NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            group_admin INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (group_id, user_id)
        );
        CREATE INDEX user_group_members_user ON user_group_members(user_id);

        CREATE TABLE devices (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            device_type TEXT NOT NULL CHECK (device_type IN ('Lock', 'Gateway', 'Keyfob')),
            time_zone TEXT,
            location TEXT,
            remarks TEXT,
            carousel_image_url TEXT,
            model TEXT,
            actual_firmware_version INTEGER,
            required_firmware_version INTEGER,
            gateway_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,
            date_decommissioned INTEGER,
            date_created INTEGER NOT NULL,
            date_modified INTEGER,
            UNIQUE (organization_id, id)
        );
        CREATE INDEX devices_gateway ON devices(gateway_id);

        CREATE TABLE device_groups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            remarks TEXT,
            location TEXT,
            date_created INTEGER NOT NULL,
            date_modified INTEGER,
            UNIQUE (organization_id, id)
        );

        CREATE TABLE device_group_members (
            group_id INTEGER NOT NULL REFERENCES device_groups(id) ON DELETE CASCADE,
            device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, device_id)
        );
        CREATE INDEX device_group_members_device ON device_group_members(device_id);

        CREATE TABLE shares (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            creator_account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
            start_date TEXT,
            start_time TEXT,
            end_date TEXT,
            end_time TEXT,
            schedule TEXT NOT NULL DEFAULT '[]',
            administrate INTEGER NOT NULL DEFAULT 0,
            remote_activate INTEGER NOT NULL DEFAULT 0,
            assign_keyfob INTEGER NOT NULL DEFAULT 0,
            device_id INTEGER,
            device_group_id INTEGER,
            user_id INTEGER,
            user_group_id INTEGER,
            receiver_first_name TEXT,
            receiver_last_name TEXT,
            receiver_group_name TEXT,
            notifications INTEGER,
            auto_remove_after TEXT,
            auto_remove_date INTEGER,
            external_id TEXT,
            token TEXT NOT NULL,
            web_key TEXT UNIQUE,
            date_created INTEGER NOT NULL,
            date_modified INTEGER,
            date_validated INTEGER,
            date_restricted INTEGER,
            version INTEGER NOT NULL DEFAULT 1,
            FOREIGN KEY (organization_id, device_id) REFERENCES devices(organization_id, id) ON DELETE CASCADE,
            FOREIGN KEY (organization_id, device_group_id) REFERENCES device_groups(organization_id, id) ON DELETE CASCADE,
            FOREIGN KEY (organization_id, user_id) REFERENCES users(organization_id, id) ON DELETE CASCADE,
            FOREIGN KEY (organization_id, user_group_id) REFERENCES user_groups(organization_id, id) ON DELETE CASCADE,
            CHECK ((device_id IS NULL) <> (device_group_id IS NULL)),
            CHECK ((user_id IS NULL) <> (user_group_id IS NULL))
        );
        CREATE INDEX shares_organization ON shares(organization_id, id);
        CREATE INDEX shares_external ON shares(organization_id, external_id, id);
        CREATE INDEX shares_organization_created ON shares(organization_id, date_created, id);
        CREATE INDEX shares_organization_start ON shares(organization_id, start_date, id);
        CREATE INDEX shares_device ON shares(device_id, id);
        CREATE INDEX shares_device_group ON shares(device_group_id, id);
        CREATE INDEX shares_user ON shares(user_id, id);
        CREATE INDEX shares_user_group ON shares(user_group_id, id);
        CREATE INDEX shares_auto_remove ON shares(auto_remove_date);
        CREATE INDEX shares_creator ON shares(creator_account_id);

        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            name TEXT,
            scopes TEXT NOT NULL,
            secret_hash BLOB NOT NULL UNIQUE,
            creator_account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
            date_created INTEGER NOT NULL,
            date_revoked INTEGER
        );
        CREATE INDEX api_keys_organization ON api_keys(organization_id);
        """

    // What `GET /v2/devices` filters and sorts on: installation, battery, activation time.
    static let schema0002 = """
        ALTER TABLE devices ADD COLUMN installed INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE devices ADD COLUMN battery_level TEXT;
        ALTER TABLE devices ADD COLUMN battery_last_measurement INTEGER;
        ALTER TABLE devices ADD COLUMN activation_time INTEGER NOT NULL DEFAULT 7;
        CREATE INDEX devices_organization_name ON devices(organization_id, name COLLATE NOCASE, id);
        """

    // Sign-in: password hashes, issued tokens (hashes only) and the failed-attempt log behind the throttle.
    static let schema0003 = """
        ALTER TABLE accounts ADD COLUMN password_hash TEXT;
        ALTER TABLE accounts ADD COLUMN date_last_authentication INTEGER;
        CREATE UNIQUE INDEX organizations_personal ON organizations(creator_account_id) WHERE personal = 1;

        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
            hash BLOB NOT NULL UNIQUE,
            family TEXT NOT NULL,
            expires INTEGER NOT NULL,
            date_created INTEGER NOT NULL,
            date_revoked INTEGER
        );
        CREATE INDEX tokens_family ON tokens(family);
        CREATE INDEX tokens_account ON tokens(account_id);

        CREATE TABLE sign_in_failures (
            username TEXT NOT NULL,
            at INTEGER NOT NULL
        );
        CREATE INDEX sign_in_failures_username ON sign_in_failures(username, at);
        """

    // Messages for the operator's mail/SMS service, written with the change that caused them.
    static let schema0004 = """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            date_created INTEGER NOT NULL,
            date_delivered INTEGER
        );
        CREATE INDEX users_invitation ON users(invitation_token);
        """

    // Verification codes and the one-use tokens they buy (hashes only), and the per-account MFA flag.
    static let schema0005 = """
        ALTER TABLE accounts ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE verification_codes (
            destination TEXT PRIMARY KEY,
            code_hash BLOB NOT NULL,
            expires INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE verification_tokens (
            hash BLOB PRIMARY KEY,
            destination TEXT NOT NULL,
            expires INTEGER NOT NULL,
            date_used INTEGER
        );
        """

    // The event log; webhooks and their durable delivery queue (one row per event and webhook, delivered
    // in id order); the live state of locks and gateways.
    static let schema0006 = """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            type TEXT NOT NULL,
            time INTEGER NOT NULL,
            device_id INTEGER,
            share_id INTEGER,
            user_id INTEGER,
            account_id INTEGER,
            result TEXT NOT NULL,
            method TEXT,
            activation_time INTEGER,
            nearby INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX events_organization ON events(organization_id, id);
        CREATE INDEX events_device ON events(device_id, type, time);

        CREATE TABLE webhooks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            types TEXT NOT NULL,
            secret TEXT NOT NULL,
            date_created INTEGER NOT NULL
        );
        CREATE INDEX webhooks_organization ON webhooks(organization_id);

        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
            event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt INTEGER NOT NULL,
            date_delivered INTEGER
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries(date_delivered, webhook_id, id);

        CREATE TABLE device_state (
            device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
            is_active_until INTEGER,
            locked TEXT NOT NULL DEFAULT 'UNKNOWN',
            last_locked INTEGER,
            online INTEGER NOT NULL DEFAULT 1,
            last_seen INTEGER,
            bridge_url TEXT,
            bridge_secret TEXT
        );
        """

    // A webhook's health (failing since, disabled at); the activation slots a lock's per-minute limit is
    // reserved from before its gateway is called.
    static let schema0008 = """
        ALTER TABLE webhooks ADD COLUMN failing_since INTEGER;
        ALTER TABLE webhooks ADD COLUMN date_disabled INTEGER;

        CREATE TABLE activation_slots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
            time INTEGER NOT NULL
        );
        CREATE INDEX activation_slots_device ON activation_slots(device_id, time);
        """

    // Attempts counted per key over a sliding window (sign-ins per account and per address, verification
    // codes per destination and per address); each row is kept until `expires`. They replace the sign-in
    // failures counted per typed username.
    static let schema0009 = """
        CREATE TABLE throttle_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            expires INTEGER NOT NULL
        );
        CREATE INDEX throttle_attempts_key ON throttle_attempts(key, expires);
        CREATE INDEX throttle_attempts_expires ON throttle_attempts(expires);
        DROP TABLE sign_in_failures;
        """

    // Outbox messages are retried one by one (attempts, when the next is due, when given up on); housekeeping
    // prunes events, delivered webhook deliveries and expired tokens by time, and an event's deliveries go with
    // it (the cascade looks them up by event).
    static let schema0010 = """
        ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE outbox ADD COLUMN next_attempt INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE outbox ADD COLUMN date_failed INTEGER;
        CREATE INDEX outbox_pending ON outbox(id) WHERE date_delivered IS NULL AND date_failed IS NULL;
        CREATE INDEX events_retention ON events(time);
        CREATE INDEX webhook_deliveries_event_retention ON webhook_deliveries(event_id);
        CREATE INDEX tokens_retention ON tokens(expires);
        """

    // Applications that sign people in with the authorization-code grant, each with its exact redirect URIs
    // (a JSON array), and the codes issued to them (by hash; a used code is kept until a day past its expiry so
    // that its second use is recognised).
    static let schema0011 = """
        CREATE TABLE oauth_clients (
            id TEXT PRIMARY KEY,
            secret_hash BLOB,
            redirect_uris TEXT NOT NULL,
            name TEXT,
            date_created INTEGER NOT NULL
        );
        CREATE TABLE oauth_codes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hash BLOB NOT NULL UNIQUE,
            client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
            redirect_uri TEXT NOT NULL,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            code_challenge TEXT,
            family TEXT NOT NULL,
            expires INTEGER NOT NULL,
            date_created INTEGER NOT NULL,
            date_used INTEGER
        );
        CREATE INDEX oauth_codes_client ON oauth_codes(client_id);
        CREATE INDEX oauth_codes_expires ON oauth_codes(expires);
        """

    // Bold's words for battery levels (Good, Fair, Poor become High, Medium, Low); a gateway's controller
    // function; what gateway bridges report (a lock's signal, the last report's timestamp against replays); the
    // fields of Bold's device events (the gateway a command went through or that reported, a bolt's status,
    // until when an activation keeps the lock open, voltages and uptime).
    static let schema0012 = """
        UPDATE devices SET battery_level = CASE battery_level
            WHEN 'Good' THEN 'High' WHEN 'Fair' THEN 'Medium' WHEN 'Poor' THEN 'Low' END
        WHERE battery_level IN ('Good', 'Fair', 'Poor');
        ALTER TABLE devices ADD COLUMN controller INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE device_state ADD COLUMN rssi INTEGER;
        ALTER TABLE device_state ADD COLUMN last_report INTEGER;
        ALTER TABLE events ADD COLUMN gateway_id INTEGER;
        ALTER TABLE events ADD COLUMN status TEXT;
        ALTER TABLE events ADD COLUMN keep_active_until INTEGER;
        ALTER TABLE events ADD COLUMN voltage_idle INTEGER;
        ALTER TABLE events ADD COLUMN voltage_under_load INTEGER;
        ALTER TABLE events ADD COLUMN uptime INTEGER;
        """

    // Each lock's controller key: the secret Keyway signs its Bluetooth handshakes and commands with, kept as
    // it is (Keyway must sign with it, so a hash would not do), one per lock, replaced when provisioned again.
    static let schema0013 = """
        CREATE TABLE controller_keys (
            device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
            secret BLOB NOT NULL,
            date_created INTEGER NOT NULL
        );
        """
}
