package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mksigned/mksigned/internal/testutil"
)

// A database whose schema a newer mksigned wrote is refused, and left as
// it is.
func TestPostgresNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testutil.Postgres(t)
	openPostgres(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE mksigned_schema SET version = 2`); err != nil {
		t.Fatal(err)
	}
	_, err = OpenPostgres(ctx, dsn, true)
	if !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), "schema version 2, and this mksigned reads version 1") {
		t.Fatalf("OpenPostgres of a newer schema: got %v, want ErrNewerFormat", err)
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT version FROM mksigned_schema`).Scan(&v); err != nil || v != 2 {
		t.Errorf("schema version after the refusal: %d, %v; want 2 left", v, err)
	}
}

// Without create (--status), a database that is not a state is an error,
// and is left without tables.
func TestPostgresNotAState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testutil.Postgres(t)
	_, err := OpenPostgres(ctx, dsn, false)
	if err == nil || !strings.Contains(err.Error(), "not a mksigned state: it has no table mksigned_schema") {
		t.Fatalf("OpenPostgres of an empty database without create: got %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'mksigned_%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("tables made: %d, %v", n, err)
	}
	openPostgres(t, dsn)
	s, err := OpenPostgres(ctx, dsn, false)
	if err != nil {
		t.Fatalf("OpenPostgres of a state without create: %v", err)
	}
	s.Close()
}

// A server that accepts the connection and never answers: the error
// comes within connect_timeout, naming the URL without its password.
func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	addr := testutil.SilentServer(t)
	dsn := fmt.Sprintf("postgres://u:hunter2secret@%s/db?connect_timeout=1&sslmode=disable", addr)
	start := time.Now()
	_, err := OpenPostgres(context.Background(), dsn, true)
	if err == nil {
		t.Fatal("OpenPostgres of a silent server: no error")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the error took %v", d)
	}
	want := fmt.Sprintf("state postgres://u:xxxxx@%s/db?connect_timeout=1&sslmode=disable: connecting: ", addr)
	if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("got %q, want it to begin %q and not hold the password", err, want)
	}
	cfg, err := pgConfig("postgres://u@h/db")
	if err != nil || cfg.ConnectTimeout != PgConnectTimeout {
		t.Errorf("default connect timeout: got %v, %v; want %v", cfg.ConnectTimeout, err, PgConnectTimeout)
	}
	if cfg, _ := pgConfig("postgres://u@h/db?connect_timeout=3"); cfg.ConnectTimeout != 3*time.Second {
		t.Errorf("the URL's connect_timeout: got %v, want 3s", cfg.ConnectTimeout)
	}
}

// Keepalives are set on each connection, unless the URL sets them (the
// server reads them as 0 on a unix socket, so this reads what is sent).
func TestPostgresKeepalives(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"postgres://u@h/db":                       "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
		"postgres://u@h/db?tcp_keepalives_idle=7": "SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
	} {
		cfg, err := pgConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := keepaliveSQL(cfg.RuntimeParams); got != want || cfg.AfterConnect == nil {
			t.Errorf("%s: %q, want %q", dsn, got, want)
		}
	}
	// And the statements are accepted (over the socket too).
	openPostgres(t, testutil.Postgres(t))
}

func TestPostgresRefused(t *testing.T) {
	t.Parallel()
	c := testutil.SharedPGCluster(t)
	db := c.CreateDatabase(t, testutil.PGPasswordUser)
	for _, tc := range []struct{ name, dsn, want string }{
		{"wrong password", c.URL(testutil.PGPasswordUser, "wrong-"+testutil.PGPassword, db), "password authentication failed"},
		{"no such database", c.URL(testutil.PGUser, testutil.PGPassword, "nosuchdb"), `database "nosuchdb" does not exist`},
	} {
		_, err := OpenPostgres(context.Background(), tc.dsn, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), testutil.PGPassword) {
			t.Errorf("%s: got %v, want %q and no password", tc.name, err, tc.want)
		}
	}
	// The right one is let in (and so the test above is of the password).
	s, err := OpenPostgres(context.Background(), c.URL(testutil.PGPasswordUser, testutil.PGPassword, db), true)
	if err != nil {
		t.Fatalf("the right password: %v", err)
	}
	s.Close()
}

// The server gone while a job is held: Done fails, and the job is not
// recorded done; once the server is back, the next Claim sees a dead
// run's job.
func TestPostgresServerLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testutil.NewPGCluster(t)
	dsn := c.NewDatabase(t)
	s := openPostgres(t, dsn)
	cl, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if err := cl.Done(ctx); err == nil {
		t.Fatal("Done with the server gone: no error")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	cl2, err := openPostgres(t, dsn).Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Release()
	if cl2.Previous() != StateClaimed || cl2.Record().Attempts != 2 {
		t.Errorf("after the server came back: previous %q, attempts %d; want claimed, 2", cl2.Previous(), cl2.Record().Attempts)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5/db":              "postgres://u:xxxxx@h:5/db",
		"postgresql://u@h/db?password=pw&x=1": "postgresql://u@h/db?password=xxxxx&x=1",
		"postgres:///db?host=/run/pg":         "postgres:///db?host=/run/pg",
		"postgres://h/db?sslpassword=pw":      "postgres://h/db?sslpassword=xxxxx",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// lockRow opens a transaction that locks key's row, as a Claim or a Done
// under way does, and keeps it open until the returned function is
// called (with commit or not).
func lockRow(t *testing.T, dsn string, key Key) (pgx.Tx, func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id int32
	if err := tx.QueryRow(ctx, `SELECT id FROM mksigned_jobs WHERE name = $1 AND version = $2 AND sha256 = $3 FOR UPDATE`,
		key.Name, key.Version, key.SHA256).Scan(&id); err != nil {
		t.Fatal(err)
	}
	end := func() {
		if err := tx.Commit(ctx); err != nil {
			t.Error(err)
		}
		conn.Close(ctx)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return tx, end
}

// A row another transaction has locked is skipped at once: ErrBusy with
// the record, or ErrDone for a done one; never a wait for the lock.
func TestPostgresRowLocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testutil.Postgres(t)
	s := openPostgres(t, dsn)
	c, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Release() // a dead run's job, which the next Claim would take
	_, unlock := lockRow(t, dsn, keyA)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = openPostgres(t, dsn).Claim(tctx, keyA, "out_1", ClaimOptions{})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Claim of a locked row took %v", d)
	}
	if r, ok := RecordOf(err); !errors.Is(err, ErrBusy) || !ok || r.State != StateClaimed || r.Attempts != 1 {
		t.Fatalf("Claim of a locked row: got %v (record %+v, %v); want ErrBusy with the claimed record", err, r, ok)
	}
	unlock()
	c, err = s.Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil || c.Previous() != StateClaimed || c.Record().Attempts != 2 {
		t.Fatalf("Claim once unlocked: got %v; want the dead run's job", err)
	}
	if err := c.Done(ctx); err != nil {
		t.Fatal(err)
	}
	_, unlock = lockRow(t, dsn, keyA)
	defer unlock()
	if _, err := s.Claim(tctx, keyA, "out_1", ClaimOptions{}); !errors.Is(err, ErrDone) {
		t.Errorf("Claim of a locked done row: got %v, want ErrDone", err)
	}
}

// Done waits for a Claim that has the row locked (and so has read it
// claimed), keeping the hold until then; Claims meanwhile are busy, and
// after it done.
func TestPostgresDoneWaitsForClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testutil.Postgres(t)
	s, other := openPostgres(t, dsn), openPostgres(t, dsn)
	c, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tx, unlock := lockRow(t, dsn, keyA)
	done := make(chan error, 1)
	go func() { done <- c.Done(ctx) }()
	awaitLockWait(t, tx, done, "Done, while a Claim had the row locked,")
	// The hold is still taken: a Claim that read the row claimed finds
	// it busy, not a dead run's.
	var free bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, id) FROM mksigned_jobs WHERE name = $2`, pgLockClass, keyA.Name).Scan(&free); err != nil {
		t.Fatal(err)
	}
	if free {
		t.Error("the hold was free while Done waited")
	}
	if _, err := other.Claim(ctx, keyA, "out_1", ClaimOptions{}); !errors.Is(err, ErrBusy) {
		t.Errorf("Claim while Done waits: got %v, want ErrBusy", err)
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := other.Claim(ctx, keyA, "out_1", ClaimOptions{}); !errors.Is(err, ErrDone) {
		t.Errorf("Claim after Done: got %v, want ErrDone", err)
	}
}

// A Claim of a new job waits for another recording a new job of its name
// and version, or of its output (here a transaction doing as Claim does),
// and then finds the conflict: it never claims a job whose conflict is
// not yet committed.
func TestPostgresNewJobWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testutil.Postgres(t)
	s := openPostgres(t, dsn)
	otherBytes := keyA
	otherBytes.SHA256 = sha('b')
	otherTemplate := Key{Name: "other-signed-template", Version: "1", SHA256: sha('c')}
	for _, tc := range []struct {
		name   string
		insert func(tx pgx.Tx) error
		key    Key
		want   string
	}{
		{"same version, other bytes", func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2 || E'\n' || $3))`, pgNewJobLockClass, keyA.Name, keyA.Version); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO mksigned_jobs (name, version, sha256, output, state, updated) VALUES ($1, $2, $3, 'out_b', 'claimed', now())`,
				keyA.Name, keyA.Version, keyA.SHA256)
			return err
		}, otherBytes, "was seen before with other bytes"},
		{"output of another job", func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO mksigned_outputs VALUES ('out_o', $1, $2, $3)`, keyA.Name, keyA.Version, keyA.SHA256)
			return err
		}, otherTemplate, "its output out_o is that of " + keyA.String()},
	} {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.insert(tx); err != nil {
			t.Fatal(err)
		}
		output := "out_b"
		if tc.key == otherTemplate {
			output = "out_o"
		}
		got := make(chan error, 1)
		go func() {
			c, err := s.Claim(ctx, tc.key, output, ClaimOptions{})
			if err == nil {
				c.Release()
			}
			got <- err
		}()
		awaitLockWait(t, tx, got, tc.name+": Claim, while another recorded a new job,")
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		var ce *ConflictError
		if err := <-got; !errors.As(err, &ce) || !strings.Contains(ce.Reason, tc.want) {
			t.Errorf("%s: got %v, want a ConflictError saying %q", tc.name, err, tc.want)
		}
	}
}

// awaitLockWait returns once some session waits for a lock (read on tx's
// connection); what, running in the background, must not return before
// (returned).
func awaitLockWait(t *testing.T, tx pgx.Tx, returned <-chan error, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var waiting bool
		if err := tx.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted)`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		select {
		case err := <-returned:
			t.Fatalf("%s returned (%v) without waiting", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not wait", what)
		}
	}
}
