package queue

// PgState is the State of an archive whose signing runs on several hosts,
// each with its own HSM: one PostgreSQL database that they all share.
//
//	mksigned_schema   (version)            one row: the schema's version
//	mksigned_jobs     one Record per template version, with an id
//	mksigned_outputs  output → the Key that owns it (primary key: no two jobs share one)
//	mksigned_summary  the last pass's Summary, as JSON
//
// Exactly once rests on the promises of State (state.go), kept so:
//
//  1. Claim, in a transaction on the state's connection that first takes
//     the transaction-scoped advisory lock (pgLockClass, 0), the analogue
//     of DirState's STATE/lock (held for a few statements, never while
//     waiting for anything else): a done (or failed) record is left alone;
//     conflicts are decided and recorded as DirState decides them; else
//     the job is held by a session-level advisory lock (pgLockClass, id)
//     taken WITHOUT WAITING (pg_try_advisory_lock) on a connection of the
//     job's own, opened for it. Not obtained: another live session holds
//     it, ErrBusy. Obtained: the record is written claimed, attempts
//     counted, and the transaction commits, so that the claimed record
//     outlives its holder while the hold does not.
//  2. The work (run.go), as for DirState.
//  3. Done (or Fail) runs its UPDATE on the job's own connection, in a
//     transaction holding the claim lock (so that no Claim reads the job
//     claimed and then finds it free), then closes that connection. The server keeps a session's advisory locks until the
//     session ends, so an UPDATE that succeeds there was made while this
//     run still held the job; if that connection was lost, Done fails and
//     the job is not recorded done (the next run finds the output and
//     records it without signing).
//
// A holder that dies — killed, its host down, its network gone — ends its
// session, and the server drops the session's advisory locks with it (as
// the kernel drops a dead process's flock; a lost TCP connection is found
// by the server's keepalives). The next Claim then takes the lock and sees
// Previous StateClaimed: a dead run's job, resumed by checking its output.
//
// Why an advisory lock and not a row locked by SELECT ... FOR UPDATE SKIP
// LOCKED in a transaction left open: both are released by the server when
// the connection dies, but (a) the claimed record and its attempts must
// be committed while the job is held, and the row a holder's open
// transaction has locked can be written only by that transaction, whose
// writes die with it; (b) whether a job is held (Record.Held, --status)
// can be read from pg_locks without taking the lock, whereas probing a row
// with SKIP LOCKED locks it for an instant and can make a concurrent Claim
// wrongly see the job busy; (c) a job can take minutes, and a transaction
// open that long holds back VACUUM and is cut by
// idle_in_transaction_session_timeout. Session advisory locks need a real
// session: a pooler in transaction mode (pgbouncer pool_mode=transaction)
// between mksigned and the server would break them; connect directly, or
// through a session-mode pool.
//
// Advisory locks are per database, so several archives can share a
// cluster, each in its own database.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PgSchema is the schema version PgState creates and reads; a database
// of a higher one is refused (ErrNewerFormat).
const PgSchema = 1

// pgLockClass is the first key of mksigned's advisory locks ("mksg"); the
// second is 0 for the claim lock, a job's id for a job's hold.
const pgLockClass = 0x6d6b7367

// PgConnectTimeout bounds each connection attempt when the URL does not
// set connect_timeout.
const PgConnectTimeout = 15 * time.Second

// IsPostgresURL says whether --state names a PostgreSQL database.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// RedactURL is a state URL fit for messages: no password, in the user
// part or in a query parameter.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(a postgres:// URL that does not parse)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	redacted := false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
			redacted = true
		}
	}
	if redacted {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// PgState is a State in a PostgreSQL database. See the comment at the
// top of pgstate.go.
type PgState struct {
	cfg  *pgx.ConnConfig
	name string // the URL without its password, for messages
	by   string

	mu   sync.Mutex // conn is not safe for concurrent use
	conn *pgx.Conn
}

// pgConfig parses a state URL, with the default connect timeout.
func pgConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the URL, password and all.
		return nil, fmt.Errorf("state %s: not a valid PostgreSQL URL", RedactURL(dsn))
	}
	if u, err := url.Parse(dsn); err == nil && !u.Query().Has("connect_timeout") {
		cfg.ConnectTimeout = PgConnectTimeout
	}
	cfg.RuntimeParams["application_name"] = "mksigned process"
	// The server's TCP keepalives (the OS's default waits two hours)
	// find a host that died without closing its connections within a
	// minute, and so drop its holds; ignored on a unix socket. Set once
	// connected, not in the startup message, which a pooler (pgbouncer)
	// refuses with parameters it does not know.
	if sql := keepaliveSQL(cfg.RuntimeParams); sql != "" {
		cfg.AfterConnect = func(ctx context.Context, c *pgconn.PgConn) error {
			_, err := c.Exec(ctx, sql).ReadAll()
			return err
		}
	}
	return cfg, nil
}

// keepaliveSQL sets the keepalives that params (the URL's) do not.
func keepaliveSQL(params map[string]string) string {
	var set []string
	for _, kv := range [][2]string{{"tcp_keepalives_idle", "30"}, {"tcp_keepalives_interval", "10"}, {"tcp_keepalives_count", "3"}} {
		if _, ok := params[kv[0]]; !ok {
			set = append(set, "SET "+kv[0]+" = "+kv[1])
		}
	}
	return strings.Join(set, "; ")
}

// OpenPostgres connects to the state database dsn (a postgres:// or
// postgresql:// URL; the password from the URL, PGPASSWORD or the
// password file, ~/.pgpass or PGPASSFILE), creating mksigned's tables
// when they are missing if create is set (else that is an error: for
// --status, which changes nothing).
func OpenPostgres(ctx context.Context, dsn string, create bool) (*PgState, error) {
	cfg, err := pgConfig(dsn)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	s := &PgState{cfg: cfg, name: RedactURL(dsn), by: fmt.Sprintf("%s pid %d", host, os.Getpid())}
	s.conn, err = s.connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.schema(ctx, create); err != nil {
		s.conn.Close(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *PgState) connect(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, s.cfg.Copy())
	if err != nil {
		return nil, s.errorf("connecting: %w", err)
	}
	return c, nil
}

// errorf is an error about the state: its URL, without the password, and
// pgx's error, which names host, user and database but never the
// password.
func (s *PgState) errorf(format string, args ...any) error {
	return fmt.Errorf("state %s: "+format, append([]any{s.name}, args...)...)
}

const pgTables = `
CREATE TABLE mksigned_jobs (
	id       serial PRIMARY KEY,
	name     text NOT NULL,
	version  text NOT NULL,
	sha256   text NOT NULL,
	output   text NOT NULL,
	state    text NOT NULL CHECK (state IN ('claimed', 'done', 'failed')),
	reason   text NOT NULL DEFAULT '',
	attempts integer NOT NULL DEFAULT 0,
	held_by  text NOT NULL DEFAULT '',
	updated  timestamptz NOT NULL,
	UNIQUE (name, version, sha256)
);
CREATE TABLE mksigned_outputs (
	output  text PRIMARY KEY,
	name    text NOT NULL,
	version text NOT NULL,
	sha256  text NOT NULL
);
CREATE TABLE mksigned_summary (
	id      integer PRIMARY KEY CHECK (id = 1),
	summary text NOT NULL
);
`

// schema creates the tables in a new database, and checks the version of
// an old one. Two runs starting on a new database at once are serialized
// by the claim lock.
func (s *PgState) schema(ctx context.Context, create bool) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if !create {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass('mksigned_schema') IS NOT NULL`).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return errors.New("not a mksigned state: it has no table mksigned_schema (a run of mksigned process creates it)")
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS mksigned_schema (version integer NOT NULL)`); err != nil {
			return err
		}
		var vs []int
		rows, err := tx.Query(ctx, `SELECT version FROM mksigned_schema`)
		if err != nil {
			return err
		}
		if vs, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
			return err
		}
		switch {
		case len(vs) == 0 && !create:
			return errors.New("not a mksigned state: its table mksigned_schema is empty")
		case len(vs) == 0:
			if _, err := tx.Exec(ctx, pgTables); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO mksigned_schema VALUES ($1)`, PgSchema)
			return err
		case len(vs) > 1:
			return fmt.Errorf("table mksigned_schema holds %d rows, not one: not a mksigned state", len(vs))
		case vs[0] > PgSchema:
			return fmt.Errorf("%w: schema version %d, and this mksigned reads version %d: use a newer mksigned", ErrNewerFormat, vs[0], PgSchema)
		case vs[0] < 1:
			return fmt.Errorf("table mksigned_schema says version %d: not a mksigned state", vs[0])
		}
		return nil
	})
}

// tx runs fn in a transaction on the state's connection holding the
// claim lock, and commits it.
func (s *PgState) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return s.errorf("closed")
	}
	err := pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, pgLockClass); err != nil {
			return err
		}
		return fn(tx)
	})
	if err == nil {
		return nil
	}
	var ce *ConflictError
	if errors.As(err, &ce) || errors.Is(err, ErrDone) || errors.Is(err, ErrFailed) || errors.Is(err, ErrBusy) {
		return err
	}
	return s.errorf("%w", err)
}

// Close closes the state.
func (s *PgState) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(context.Background())
	s.conn = nil
	return err
}

const pgRecordColumns = `id, name, version, sha256, output, state, reason, attempts, held_by, updated`

// pgRecord is a Record and its row's id.
type pgRecord struct {
	id int32
	Record
}

func scanRecord(row pgx.Row) (*pgRecord, error) {
	var r pgRecord
	err := row.Scan(&r.id, &r.Name, &r.Version, &r.SHA256, &r.Output, &r.State, &r.Reason, &r.Attempts, &r.By, &r.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.Updated = r.Updated.UTC()
	return &r, nil
}

func getRecord(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, key Key) (*pgRecord, error) {
	return scanRecord(q.QueryRow(ctx, `SELECT `+pgRecordColumns+` FROM mksigned_jobs WHERE name = $1 AND version = $2 AND sha256 = $3`,
		key.Name, key.Version, key.SHA256))
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Claim implements State.
func (s *PgState) Claim(ctx context.Context, key Key, output string, opts ClaimOptions) (Claim, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkOutputName(output); err != nil {
		return nil, err
	}
	// The job's own session, on which its hold is taken.
	hold, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	var c *pgClaim
	var conflict *ConflictError
	err = s.tx(ctx, func(tx pgx.Tx) error {
		rec, err := getRecord(ctx, tx, key)
		if err != nil {
			return err
		}
		prev := ""
		if rec != nil {
			prev = rec.State
			switch {
			case rec.State == StateDone:
				return &recordError{rec.Record, ErrDone}
			case rec.State == StateFailed && !opts.RetryFailed:
				return &recordError{rec.Record, ErrFailed}
			}
		} else {
			reason, err := pgConflict(ctx, tx, key, output)
			if err != nil {
				return err
			}
			state := StateClaimed
			if reason != "" {
				state = StateFailed
			}
			rec = &pgRecord{Record: Record{Key: key, Output: output, State: state, Reason: reason, By: s.by, Updated: now()}}
			err = tx.QueryRow(ctx, `INSERT INTO mksigned_jobs (name, version, sha256, output, state, reason, held_by, updated)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
				key.Name, key.Version, key.SHA256, output, state, reason, s.by, rec.Updated).Scan(&rec.id)
			if err != nil {
				return err
			}
			if reason != "" {
				// Committed: the next pass sees the failure.
				conflict = &ConflictError{Key: key, Reason: reason}
				return nil
			}
		}
		// The hold, taken without waiting.
		var ok bool
		if err := hold.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, pgLockClass, rec.id).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return &recordError{rec.Record, ErrBusy}
		}
		if prev == "" {
			if _, err := tx.Exec(ctx, `INSERT INTO mksigned_outputs VALUES ($1, $2, $3, $4)`,
				output, key.Name, key.Version, key.SHA256); err != nil {
				return err
			}
		}
		rec.State, rec.Reason, rec.By, rec.Updated = StateClaimed, "", s.by, now()
		rec.Attempts++
		if _, err := tx.Exec(ctx, `UPDATE mksigned_jobs SET state = $2, reason = '', attempts = $3, held_by = $4, updated = $5 WHERE id = $1`,
			rec.id, rec.State, rec.Attempts, rec.By, rec.Updated); err != nil {
			return err
		}
		c = &pgClaim{s: s, rec: *rec, prev: prev, hold: hold}
		return nil
	})
	if err == nil && conflict != nil {
		err = conflict
	}
	if err != nil {
		hold.Close(context.Background())
		return nil, err
	}
	return c, nil
}

// pgConflict is DirState.conflict: why a new job may not be taken, or "".
func pgConflict(ctx context.Context, tx pgx.Tx, key Key, output string) (string, error) {
	var other string
	err := tx.QueryRow(ctx, `SELECT sha256 FROM mksigned_jobs WHERE name = $1 AND version = $2 AND sha256 <> $3 ORDER BY id LIMIT 1`,
		key.Name, key.Version, key.SHA256).Scan(&other)
	if err == nil {
		return fmt.Sprintf("%s was seen before with other bytes (sha256 %s, now %s): a changed template needs a new version",
			key, other, key.SHA256), nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return "", err
	}
	var owner Key
	err = tx.QueryRow(ctx, `SELECT name, version, sha256 FROM mksigned_outputs WHERE output = $1`, output).
		Scan(&owner.Name, &owner.Version, &owner.SHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	if owner != key {
		return fmt.Sprintf("its output %s is that of %s (sha256 %s) already", output, owner, owner.SHA256), nil
	}
	return "", nil
}

// pgClaim is a job PgState gave: its session holds the job's advisory
// lock until Done, Fail or Release closes it.
type pgClaim struct {
	s    *PgState
	rec  pgRecord
	prev string
	hold *pgx.Conn
}

func (c *pgClaim) Record() Record   { return c.rec.Record }
func (c *pgClaim) Previous() string { return c.prev }

func (c *pgClaim) Done(ctx context.Context) error { return c.finish(ctx, StateDone, "") }

func (c *pgClaim) Fail(ctx context.Context, reason string) error {
	return c.finish(ctx, StateFailed, reason)
}

// finish writes the record's final state on the job's own session, which
// holds the job: so it is written only while held, and the job is
// released (the session closed) after.
func (c *pgClaim) finish(ctx context.Context, state, reason string) error {
	if c.hold == nil {
		return errors.New("job already released")
	}
	defer c.Release()
	updated := now()
	// Under the claim lock, as Claim reads: else a Claim could read the
	// record claimed, then find the hold free once this one is done,
	// and take a done job for a dead run's.
	err := pgx.BeginFunc(ctx, c.hold, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, pgLockClass); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE mksigned_jobs SET state = $2, reason = $3, updated = $4 WHERE id = $1`,
			c.rec.id, state, reason, updated)
		if err == nil && tag.RowsAffected() != 1 {
			err = errors.New("its record is gone")
		}
		return err
	})
	if err != nil {
		return c.s.errorf("recording %s %s: %w", c.rec.Key, state, err)
	}
	c.rec.State, c.rec.Reason, c.rec.Updated = state, reason, updated
	return nil
}

func (c *pgClaim) Release() error {
	if c.hold == nil {
		return nil
	}
	// Unlocked before the close, which the server acts on a moment
	// after it returns.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.hold.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	if cerr := c.hold.Close(ctx); err == nil {
		err = cerr
	}
	c.hold = nil
	return err
}

// Get implements State.
func (s *PgState) Get(ctx context.Context, key Key) (*Record, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var r *Record
	err := s.query(ctx, func(conn *pgx.Conn) error {
		pr, err := getRecord(ctx, conn, key)
		if pr != nil {
			r = &pr.Record
		}
		return err
	})
	return r, err
}

// query runs fn on the state's connection.
func (s *PgState) query(ctx context.Context, fn func(*pgx.Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return s.errorf("closed")
	}
	if err := fn(s.conn); err != nil {
		return s.errorf("%w", err)
	}
	return nil
}

// Records implements State. Held is read from pg_locks: a claimed job
// whose advisory lock no session holds belongs to a run that died.
func (s *PgState) Records(ctx context.Context) ([]Record, error) {
	var out []Record
	err := s.query(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT `+pgRecordColumns+`, EXISTS (SELECT 1 FROM pg_locks l
				WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = j.id::oid AND l.objsubid = 2
				AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
			FROM mksigned_jobs j ORDER BY name COLLATE "C", version COLLATE "C", sha256`, pgLockClass)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
			var r Record
			var id int32
			var held bool
			err := row.Scan(&id, &r.Name, &r.Version, &r.SHA256, &r.Output, &r.State, &r.Reason, &r.Attempts, &r.By, &r.Updated, &held)
			r.Updated = r.Updated.UTC()
			r.Held = held && r.State == StateClaimed
			return r, err
		})
		return err
	})
	return out, err
}

// SaveSummary implements State.
func (s *PgState) SaveSummary(ctx context.Context, sum *Summary) error {
	b, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	return s.query(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `INSERT INTO mksigned_summary VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET summary = EXCLUDED.summary`, string(b))
		return err
	})
}

// LastSummary implements State.
func (s *PgState) LastSummary(ctx context.Context) (*Summary, error) {
	var sum *Summary
	err := s.query(ctx, func(conn *pgx.Conn) error {
		var text string
		err := conn.QueryRow(ctx, `SELECT summary FROM mksigned_summary WHERE id = 1`).Scan(&text)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		sum = new(Summary)
		if err := json.Unmarshal([]byte(text), sum); err != nil {
			return fmt.Errorf("corrupt summary: %w", err)
		}
		return nil
	})
	return sum, err
}
