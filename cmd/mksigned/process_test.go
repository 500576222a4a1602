package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/queue"
)

// The terminal summary's last line counts each list under its own name.
func TestPrintSummaryCounts(t *testing.T) {
	it := queue.Item{File: "x.deb", Template: "x-signed-template", Version: "1", Reason: "r"}
	s := &queue.Summary{Processed: []queue.Item{it}, Skipped: []queue.Item{it, it},
		Waiting: []queue.Item{it, it, it}, Failed: []queue.Item{it, it, it, it}}
	var b bytes.Buffer
	printSummary(&b, s, false)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if got, want := lines[len(lines)-1], "1 processed, 2 skipped, 3 waiting, 4 failed"; got != want {
		t.Errorf("last line %q, want %q", got, want)
	}
}

// --status only reads: a state directory that is not there is an
// error, and is not made.
func TestProcessStatusMissingState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	var out, errb bytes.Buffer
	err := runProcess(context.Background(), []string{"--status", "--state", dir}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--state") {
		t.Errorf("got %v, want an error naming --state", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("--status made the state directory %s", dir)
	}
}

// The state may not be the output directory, which is published.
func TestProcessStateIsOutput(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	err := runProcess(context.Background(), []string{"--incoming", filepath.Join(dir, "in"), "--output", filepath.Join(dir, "out"),
		"--state", filepath.Join(dir, "out") + "/", "--sign-with", "true", "--once"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--state may not be --output") {
		t.Errorf("got %v, want a usage error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("the output directory was made")
	}
}
