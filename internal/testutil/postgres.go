package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// PGCluster is a throwaway PostgreSQL cluster: initdb in a temporary
// directory, the server listening only on a unix socket in it. When the
// tests run as root (initdb refuses root) the cluster is the postgres
// user's. Its postmaster dies with the test binary, even one that panics
// (PR_SET_PDEATHSIG), and its backends follow their postmaster.
type PGCluster struct {
	bin, dir, sock string
	port           int
	cred           *syscall.Credential
	cmd            *exec.Cmd
	exited         chan struct{}
}

// PGUser is the superuser of a throwaway cluster (trust authentication
// on its socket); PGPasswordUser needs the password PGPassword.
const (
	PGUser         = "mksigned"
	PGPasswordUser = "mksigned_pw"
	PGPassword     = "Sekr1t-pw-for-tests"
)

// pgBin is the bin directory of the newest PostgreSQL installed.
func pgBin(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi < vj
	})
	if len(dirs) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is missing: no /usr/lib/postgresql/*/bin/initdb (CI must install postgresql: see .ci/run)")
		}
		t.Skipf("skipping: PostgreSQL not installed (no /usr/lib/postgresql/*/bin/initdb; CI installs it, see .ci/run)")
	}
	return filepath.Dir(dirs[len(dirs)-1])
}

// NewPGCluster creates and starts a cluster of the test's own, stopped
// (immediate shutdown) when the test ends. Use it to stop and start the
// server under a test; else Postgres shares one.
func NewPGCluster(t testing.TB) *PGCluster {
	t.Helper()
	c, err := newPGCluster(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() })
	return c
}

func newPGCluster(t testing.TB) (*PGCluster, error) {
	c := &PGCluster{bin: pgBin(t)}
	var err error
	// Short: a unix socket's path is at most 107 bytes.
	if c.dir, err = os.MkdirTemp("", "mksigned-pg-"); err != nil {
		return nil, err
	}
	c.sock = filepath.Join(c.dir, "s")
	if err := os.Mkdir(c.sock, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and initdb refuses root: no postgres user to run it as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, d := range []string{c.dir, c.sock} {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(c.dir, "data")
	if err := c.run("initdb", "-D", data, "-U", PGUser, "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"); err != nil {
		c.Remove()
		return nil, err
	}
	hba := fmt.Sprintf("local all %s scram-sha-256\nlocal all all trust\n", PGPasswordUser)
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o644); err != nil {
		c.Remove()
		return nil, err
	}
	if err := c.Start(); err != nil {
		c.Remove()
		return nil, err
	}
	if err := c.psql("postgres", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", PGPasswordUser, PGPassword)); err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

func (c *PGCluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	return cmd
}

func (c *PGCluster) run(name string, args ...string) error {
	cmd := c.command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %q: %v\n%s", name, args, err, out.String())
	}
	return nil
}

func (c *PGCluster) psql(db, sql string) error {
	return c.run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", c.sock, "-p", strconv.Itoa(c.port), "-U", PGUser, "-d", db, "-c", sql)
}

// Start starts the server (the postmaster directly, not through pg_ctl,
// so that it is this process's child and dies with it), and waits until
// it accepts connections.
func (c *PGCluster) Start() error {
	c.cmd = c.command("postgres", "-D", filepath.Join(c.dir, "data"), "-p", strconv.Itoa(c.port),
		"-k", c.sock, "-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=200")
	log, err := os.OpenFile(filepath.Join(c.dir, "log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	c.cmd.Stdout, c.cmd.Stderr = log, log
	if err := c.cmd.Start(); err != nil {
		return err
	}
	c.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(c.cmd, c.exited)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			b, _ := os.ReadFile(filepath.Join(c.dir, "log"))
			return fmt.Errorf("postgres exited at start:\n%s", b)
		case <-time.After(100 * time.Millisecond):
		}
		if c.run("pg_isready", "-q", "-h", c.sock, "-p", strconv.Itoa(c.port)) == nil {
			return nil
		}
	}
	c.Stop()
	return fmt.Errorf("postgres did not accept connections within a minute")
}

// Stop stops the server as `pg_ctl stop -m immediate` does (SIGQUIT to
// the postmaster: every connection is cut, nothing is shut down cleanly),
// and waits for it to exit.
func (c *PGCluster) Stop() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

// Remove stops the server and removes the cluster.
func (c *PGCluster) Remove() {
	c.Stop()
	os.RemoveAll(c.dir)
}

var dbSeq atomic.Int64

// NewDatabase creates an empty database and returns its URL, as the
// superuser (no password).
func (c *PGCluster) NewDatabase(t testing.TB) string {
	t.Helper()
	return c.URL(PGUser, "", c.CreateDatabase(t, PGUser))
}

// CreateDatabase creates an empty database owned by owner and returns
// its name.
func (c *PGCluster) CreateDatabase(t testing.TB, owner string) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := c.psql("postgres", "CREATE DATABASE "+name+" OWNER "+owner); err != nil {
		t.Fatal(err)
	}
	return name
}

// URL is a postgres:// URL of database db on the cluster's socket as
// user, with password if not "".
func (c *PGCluster) URL(user, password, db string) string {
	u := user
	if password != "" {
		u += ":" + password
	}
	return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&sslmode=disable", u, db, c.sock, c.port)
}

// Port and Socket are where the server listens.
func (c *PGCluster) Port() int      { return c.port }
func (c *PGCluster) Socket() string { return c.sock }

var shared struct {
	once sync.Once
	c    *PGCluster
	err  error
}

// Postgres returns the URL of a new, empty database on a cluster shared
// by the test binary (started at the first call; StopPostgres, from
// TestMain, removes it). It skips the test when PostgreSQL is not
// installed, unless CI is set; failing to start it fails the test.
func Postgres(t testing.TB) string {
	t.Helper()
	return SharedPGCluster(t).NewDatabase(t)
}

// SharedPGCluster is the cluster Postgres creates databases on.
func SharedPGCluster(t testing.TB) *PGCluster {
	t.Helper()
	pgBin(t)
	shared.once.Do(func() { shared.c, shared.err = newPGCluster(t) })
	if shared.err != nil {
		t.Fatalf("starting a throwaway PostgreSQL cluster: %v", shared.err)
	}
	return shared.c
}

// StopPostgres removes the shared cluster, if one was started.
func StopPostgres() {
	if shared.c != nil {
		shared.c.Remove()
	}
}

// SilentServer listens on a TCP port of 127.0.0.1, accepts connections
// and never answers, until the test ends: a server that hangs. It
// returns its address.
func SilentServer(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}
