package main

import (
	"os"
	"syscall"
)

// notify returns a channel that receives a value (coalesced) whenever a
// file in dir is written and closed, moved in or out, or removed, and a
// function that stops it. It uses inotify(7); the poller in watch covers
// what inotify misses (changes another NFS client makes).
func notify(dir string) (<-chan struct{}, func(), error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, nil, os.NewSyscallError("inotify_init1", err)
	}
	const mask = syscall.IN_CLOSE_WRITE | syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_DELETE | syscall.IN_ATTRIB
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		syscall.Close(fd)
		return nil, nil, os.NewSyscallError("inotify_add_watch "+dir, err)
	}
	// A non-blocking descriptor goes to Go's poller: Read waits there,
	// and Close ends it.
	f := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, func() { f.Close() }, nil
}
