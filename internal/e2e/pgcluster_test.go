package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/testnet"
	"github.com/jackc/pgx/v5"
)

// pgCluster is a PostgreSQL cluster of the test's own (initdb, pg_ctl), so
// that the test can stop and start it; the shared server must never be
// stopped. initdb and the server refuse to run as root: as root they run
// as the postgres system user (runuser), in a directory that user owns.
type pgCluster struct {
	bin  string // directory of initdb, pg_ctl, postgres
	dir  string // owned by the cluster's user: data/, the socket, the log
	port int
	as   []string // command prefix that runs as the cluster's user, if any
}

// pgBinDir finds initdb: on PATH, else where pg_config says the server's
// programs are (Debian keeps them out of PATH).
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("initdb is neither on PATH nor in pg_config --bindir (install PostgreSQL's server package)")
}

// newPGCluster makes and starts a cluster on a free loopback port, with
// trust authentication for the postgres user and durability off (it is
// thrown away); it is stopped and removed when the test ends.
func newPGCluster(t testing.TB) *pgCluster {
	t.Helper()
	bin, err := pgBinDir()
	if err != nil {
		t.Fatalf("this test runs a PostgreSQL cluster of its own: %v", err)
	}
	c := &pgCluster{bin: bin}
	// Not t.TempDir: its parent is private to root, and the cluster's
	// user must reach its directory.
	c.dir, err = os.MkdirTemp("", "expbot-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(c.dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, this test runs PostgreSQL as the postgres system user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Fatalf("running as root, this test needs runuser (util-linux) to run PostgreSQL as postgres: %v", err)
		}
		c.as = []string{runuser, "-u", "postgres", "--"}
	}
	c.port = testnet.Port(t)
	c.run(t, "initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	c.start(t)
	t.Cleanup(func() { c.ctl(t, "stop", "-m", "immediate") })
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// run runs one of the cluster's programs as its user.
func (c *pgCluster) run(t testing.TB, prog string, args ...string) {
	t.Helper()
	argv := append(append(append([]string(nil), c.as...), filepath.Join(c.bin, prog)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}

func (c *pgCluster) ctl(t testing.TB, args ...string) {
	t.Helper()
	c.run(t, "pg_ctl", append([]string{"-D", c.data(), "-w", "-t", "60"}, args...)...)
}

// start starts the server and waits until it accepts connections.
func (c *pgCluster) start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.dir)
	c.ctl(t, "start", "-l", filepath.Join(c.dir, "server.log"), "-o", opts)
}

// stop stops the server as a fast shutdown does (clients disconnected,
// transactions rolled back): what an operator's restart or a failover
// looks like to expbot.
func (c *pgCluster) stop(t testing.TB) { c.ctl(t, "stop", "-m", "fast") }

// url is the URL of database db on the cluster.
func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// createDB makes database name and returns its URL.
func (c *pgCluster) createDB(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url("postgres"))
	if err != nil {
		t.Fatalf("connect to the test's cluster: %v", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return c.url(name)
}

// The database stops in the middle of a run of requests to three replicas:
// they say they are not ready, webhooks get 503 and the forge sends them
// again, jobs wait; once the database is back everything converges, no
// delivery lost, no replica exited, no internal error in a comment.
//
// The outage outlasts River's completer, which gives up recording a job's
// end after about 7 s of errors and leaves the job "running" under a live
// replica: until queue's lost-job recovery (pipeline/store/queue/lost.go)
// such jobs held their repositories' requests for an hour.
func TestChaosDatabaseOutage(t *testing.T) {
	pg := newPGCluster(t)
	w, seed := newWorkload(7, 10, 2, 10)
	rs := newReplicas(t, 3, replicaConfig{StoreURL: pg.createDB(t, "expbot"), Seed: seed, Forge: []forgesim.Option{chaosRetry}})
	const rate = 20 // actions per second
	end := budget(t, 5*time.Minute)
	start := time.Now()
	sent := w.runOpenLoop(rs.forge, time.Second/rate)
	runFor := time.Duration(len(w.actions)) * time.Second / rate
	t.Logf("%d actions over %s", len(w.actions), runFor)

	time.Sleep(time.Until(start.Add(runFor / 3)))
	pg.stop(t)
	down := time.Now()
	for i, h := range rs.replicas {
		h.waitFor(t, fmt.Sprintf("replica %d to say it is not ready", i), func() bool { return readyz(h) == http.StatusServiceUnavailable })
	}
	time.Sleep(time.Until(down.Add(15 * time.Second)))
	pg.start(t)
	t.Logf("PostgreSQL was down for %s", time.Since(down).Round(100*time.Millisecond))

	for _, err := range <-sent {
		t.Errorf("forge action failed (a bug of the test): %v", err)
	}
	w.converge(t, rs, end)
	refused := 0
	for _, d := range rs.sim.Deliveries() {
		if d.Status == http.StatusServiceUnavailable {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no delivery was answered 503 while the database was down")
	}
	_, ids, failed := lostDeliveries(rs.sim)
	t.Logf("%d deliveries, %d answered 503, %d failed attempts in all, none lost", ids, refused, failed)
	time.Sleep(3 * time.Second)
	for _, p := range w.problems(rs) {
		t.Errorf("after convergence: %s", p)
	}
	for _, e := range commentErrors(rs) {
		t.Errorf("a comment carried an internal error: %s", e)
	}
	for i, h := range rs.replicas {
		if !alive(h) {
			t.Errorf("replica %d exited during the outage", i)
		}
	}
	rs.stopAll()
	for _, p := range pulumiLeft(rs) {
		t.Errorf("Pulumi process left after the replicas stopped: %s", p)
	}
	for i, h := range rs.replicas {
		b, _ := os.ReadFile(h.log.Name())
		t.Logf("replica %d: %d jobs lost during the outage made available again", i, lostRecovered(string(b)))
	}
}

// lostRecovered sums the jobs a replica's log says it made available again
// after losing them (queue.recoverLost, through the standard log).
func lostRecovered(log string) int {
	n := 0
	for _, m := range lostLine.FindAllStringSubmatch(log, -1) {
		k, _ := strconv.Atoi(m[1])
		n += k
	}
	return n
}

var lostLine = regexp.MustCompile(`could not record made available again jobs=(\d+)`)

// readyz is a replica's /readyz status, 0 when it does not answer.
func readyz(h *harness) int {
	resp, err := http.Get("http://" + h.addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
