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
//  1. Claim, in a transaction on the state's connection, reads the job's
//     row with SELECT ... FOR UPDATE SKIP LOCKED. A row another
//     transaction has locked (another Claim, or a Done or Fail under
//     way) is skipped, without waiting: ErrBusy (ErrDone or ErrFailed if
//     the row, read again without locking, says so). A done (or failed)
//     record is left alone. Else the job is held by a session-level
//     advisory lock (pgLockClass, id) taken WITHOUT WAITING
//     (pg_try_advisory_lock) on a connection of the job's own, opened
//     for it. Not obtained: another live session holds it, ErrBusy.
//     Obtained: the record is written claimed, attempts counted, and the
//     transaction commits, so that the claimed record outlives its
//     holder while the hold does not. A job with no row yet is inserted
//     (INSERT ... ON CONFLICT DO NOTHING: one that another Claim inserted
//     first is read again) under a transaction-scoped advisory lock on
//     its name and version (pgNewJobLockClass), held for a few
//     statements: its conflicts are decided as DirState decides them,
//     the other records of its name and version being all committed
//     under that lock, and its output claimed by inserting it into
//     mksigned_outputs (its primary key: of two new jobs with one
//     output, the second's insert waits for the first's transaction and
//     then finds the owner); a conflict is committed as the job's
//     failure.
//  2. The work (run.go), as for DirState.
//  3. Done (or Fail) locks the job's row (SELECT ... FOR UPDATE, waiting
//     for a Claim that has it), runs its UPDATE and commits, on the
//     job's own connection, and only then closes that connection. So no
//     Claim reads the job claimed and then finds the hold free: a Claim
//     that has the row locked has read it claimed, and Done's
//     transaction waits for the Claim's, which finds the hold still
//     taken (ErrBusy); a Claim that locks the row after Done's commit
//     reads it done (FOR UPDATE reads the row's newest version); and
//     between Done's lock and its commit, Claims skip the row. The
//     server keeps a session's advisory locks until the session ends,
//     so an UPDATE that succeeds there was made while this run still
//     held the job; if that connection was lost, Done fails and the job
//     is not recorded done (the next run finds the output and records it
//     without signing).
//
// Row locks are only for these few statements; no lock is global (the
// schema lock, (pgLockClass, 0), is taken only while the tables are
// checked or created), so Claims of different jobs never wait for each
// other, and those of one job only for a new job's insert.
//
// A holder that dies — killed, its host down, its network gone — ends its
// session, and the server drops the session's advisory locks with it (as
// the kernel drops a dead process's flock; a lost TCP connection is found
// by the server's keepalives). The next Claim then takes the lock and sees
// Previous StateClaimed: a dead run's job, resumed by checking its output.
//
// Why the advisory lock holds the job for its duration, and not the
// row's lock (SELECT ... FOR UPDATE SKIP LOCKED) in a transaction left
// open: both are released by the server when the connection dies, but
// (a) the claimed record and its attempts must be committed while the
// job is held, and the row a holder's open transaction has locked can be
// written only by that transaction, whose writes die with it; (b) whether
// a job is held (Record.Held, --status) can be read from pg_locks without
// taking the lock, whereas probing a row with SKIP LOCKED locks it for an
// instant and can make a concurrent Claim wrongly see the job busy; (c) a
// job can take minutes, and a transaction open that long holds back
// VACUUM and is cut by idle_in_transaction_session_timeout. So the row
// lock serves the claim and finish transactions only. Session advisory
// locks need a real session: a pooler in transaction mode
// (pgbouncer pool_mode=transaction) between mksigned and the server
// would break them; connect directly, or through a session-mode pool.
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
// second is 0 for the schema lock (taken while the tables are checked or
// created), a job's id (never 0) for a job's hold.
const pgLockClass = 0x6d6b7367

// pgNewJobLockClass ("mksh") is the first key of the lock a Claim takes
// to record a new job, the second a hash of its name and version: two
// Claims of one name and version with other bytes are so serialized, and
// the second sees the first's record (a hash collision only serializes
// two that need not be).
const pgNewJobLockClass = 0x6d6b7368

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
// by the schema lock.
func (s *PgState) schema(ctx context.Context, create bool) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, pgLockClass); err != nil {
			return err
		}
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

// tx runs fn in a transaction on the state's connection, and commits it.
func (s *PgState) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return s.errorf("closed")
	}
	err := pgx.BeginFunc(ctx, s.conn, fn)
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
		var err error
		c, conflict, err = s.claim(ctx, tx, hold, key, output, opts)
		return err
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

// claim is Claim's transaction. A record it returns a conflict for is
// committed failed.
func (s *PgState) claim(ctx context.Context, tx pgx.Tx, hold *pgx.Conn, key Key, output string, opts ClaimOptions) (*pgClaim, *ConflictError, error) {
	// Twice at most: a new job another Claim recorded first is read
	// again, and is then there.
	for range 2 {
		rec, err := scanRecord(tx.QueryRow(ctx, `SELECT `+pgRecordColumns+` FROM mksigned_jobs
			WHERE name = $1 AND version = $2 AND sha256 = $3 FOR UPDATE SKIP LOCKED`, key.Name, key.Version, key.SHA256))
		if err != nil {
			return nil, nil, err
		}
		if rec != nil {
			c, err := s.claimRecorded(ctx, tx, hold, rec, opts)
			return c, nil, err
		}
		// None, or locked by another transaction: a Claim or a Done
		// (Fail) of it under way, which decides it. Read without
		// locking, for the record.
		if rec, err = getRecord(ctx, tx, key); err != nil {
			return nil, nil, err
		} else if rec != nil {
			if err := settled(rec, opts); err != nil {
				return nil, nil, err
			}
			return nil, nil, &recordError{rec.Record, ErrBusy}
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2 || E'\n' || $3))`,
			pgNewJobLockClass, key.Name, key.Version); err != nil {
			return nil, nil, err
		}
		rec = &pgRecord{Record: Record{Key: key, Output: output, State: StateClaimed, Attempts: 1, By: s.by, Updated: now()}}
		err = tx.QueryRow(ctx, `INSERT INTO mksigned_jobs (name, version, sha256, output, state, attempts, held_by, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id`,
			key.Name, key.Version, key.SHA256, output, rec.State, rec.Attempts, rec.By, rec.Updated).Scan(&rec.id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // recorded by another Claim since
		} else if err != nil {
			return nil, nil, err
		}
		return s.claimNew(ctx, tx, hold, rec)
	}
	return nil, nil, &recordError{Record{Key: key, Output: output}, ErrBusy}
}

// settled is the error of Claim for a job done, or failed when failures
// are not retried; nil for one that may be claimed.
func settled(rec *pgRecord, opts ClaimOptions) error {
	switch {
	case rec.State == StateDone:
		return &recordError{rec.Record, ErrDone}
	case rec.State == StateFailed && !opts.RetryFailed:
		return &recordError{rec.Record, ErrFailed}
	}
	return nil
}

// claimRecorded claims a job recorded before, whose row tx has locked.
func (s *PgState) claimRecorded(ctx context.Context, tx pgx.Tx, hold *pgx.Conn, rec *pgRecord, opts ClaimOptions) (*pgClaim, error) {
	if err := settled(rec, opts); err != nil {
		return nil, err
	}
	if ok, err := tryHold(ctx, hold, rec.id); err != nil {
		return nil, err
	} else if !ok {
		return nil, &recordError{rec.Record, ErrBusy}
	}
	prev := rec.State
	rec.State, rec.Reason, rec.By, rec.Updated = StateClaimed, "", s.by, now()
	rec.Attempts++
	if _, err := tx.Exec(ctx, `UPDATE mksigned_jobs SET state = $2, reason = '', attempts = $3, held_by = $4, updated = $5 WHERE id = $1`,
		rec.id, rec.State, rec.Attempts, rec.By, rec.Updated); err != nil {
		return nil, err
	}
	return &pgClaim{s: s, rec: *rec, prev: prev, hold: hold}, nil
}

// claimNew claims the new job whose row tx inserted (claimed, under the
// new-job lock of its name and version), or fails it with a conflict.
func (s *PgState) claimNew(ctx context.Context, tx pgx.Tx, hold *pgx.Conn, rec *pgRecord) (*pgClaim, *ConflictError, error) {
	reason, err := pgConflict(ctx, tx, rec.Key, rec.Output)
	if err != nil {
		return nil, nil, err
	}
	if reason != "" {
		rec.State, rec.Reason, rec.Attempts = StateFailed, reason, 0
		if _, err := tx.Exec(ctx, `UPDATE mksigned_jobs SET state = $2, reason = $3, attempts = 0 WHERE id = $1`,
			rec.id, rec.State, rec.Reason); err != nil {
			return nil, nil, err
		}
		// Committed: the next pass sees the failure.
		return nil, &ConflictError{Key: rec.Key, Reason: reason}, nil
	}
	// No one else can hold a row no one else sees yet.
	if ok, err := tryHold(ctx, hold, rec.id); err != nil || !ok {
		return nil, nil, fmt.Errorf("the hold of new job %d not obtained (%v)", rec.id, err)
	}
	return &pgClaim{s: s, rec: *rec, hold: hold}, nil, nil
}

// tryHold takes the hold of job id on its session, without waiting.
func tryHold(ctx context.Context, hold *pgx.Conn, id int32) (bool, error) {
	var ok bool
	err := hold.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, pgLockClass, id).Scan(&ok)
	return ok, err
}

// pgConflict is DirState.conflict: why a new job may not be taken, or "".
// The new-job lock makes the first check sound (the rows of the job's
// name and version that it reads are committed); the output is claimed by
// inserting it, so that of two jobs writing one output, the second's
// insert waits for the first's transaction and then finds the owner.
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
	tag, err := tx.Exec(ctx, `INSERT INTO mksigned_outputs VALUES ($1, $2, $3, $4) ON CONFLICT (output) DO NOTHING`,
		output, key.Name, key.Version, key.SHA256)
	if err != nil || tag.RowsAffected() == 1 {
		return "", err
	}
	var owner Key
	if err := tx.QueryRow(ctx, `SELECT name, version, sha256 FROM mksigned_outputs WHERE output = $1`, output).
		Scan(&owner.Name, &owner.Version, &owner.SHA256); err != nil {
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
	// Under the row's lock, waiting for a Claim that has it, and
	// committed before the hold is released: else a Claim could read the
	// record claimed, then find the hold free once this one is done, and
	// take a done job for a dead run's (see the top of this file). The
	// UPDATE would wait for that lock too; the SELECT says so, and finds
	// a record that is gone.
	err := pgx.BeginFunc(ctx, c.hold, func(tx pgx.Tx) error {
		var id int32
		err := tx.QueryRow(ctx, `SELECT id FROM mksigned_jobs WHERE id = $1 FOR UPDATE`, c.rec.id).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("its record is gone")
		} else if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE mksigned_jobs SET state = $2, reason = $3, updated = $4 WHERE id = $1`,
			c.rec.id, state, reason, updated)
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
