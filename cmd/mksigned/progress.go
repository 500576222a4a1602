package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mksigned/mksigned/job"
)

// progressBar draws one status line on a terminal, at most ten times a
// second: files signed and bytes read.
type progressBar struct {
	w     io.Writer
	mu    sync.Mutex
	last  time.Time
	drawn bool
	p     job.Progress
}

// newProgressBar returns a bar drawing on w, or nil when w is not a
// terminal (pipelines and logs get no progress).
func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressBar{w: w}
}

func (b *progressBar) update(p job.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p = p
	if now := time.Now(); now.Sub(b.last) >= 100*time.Millisecond {
		b.last = now
		b.draw()
	}
}

func (b *progressBar) draw() {
	const width = 30
	fill := 0
	if b.p.TotalFiles > 0 {
		fill = b.p.Files * width / b.p.TotalFiles
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < fill {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(b.w, "\r[%s] %d/%d files, %.1f MB read", bar, b.p.Files, b.p.TotalFiles, float64(b.p.BytesRead)/1e6)
	b.drawn = true
}

// finish draws the final state and ends the line.
func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		b.draw()
		fmt.Fprintln(b.w)
	}
}
