package job

import (
	"runtime"
	"syscall"
)

// lowerPriority locks the calling goroutine to its thread and lowers that
// thread's CPU priority by workerNice (Linux's nice is per thread). The
// goroutine must not unlock: the thread then ends with it, and no other
// goroutine runs at the lowered priority. It reports whether the priority
// was lowered.
func lowerPriority() bool {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	if tid == syscall.Getpid() {
		// The main thread outlives a goroutine locked to it (the runtime
		// parks it instead), and ps shows its priority as the process's.
		runtime.UnlockOSThread()
		return false
	}
	// The raw getpriority system call returns 20 - nice.
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return false
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-raw+workerNice, 19)) == nil
}

const canLowerPriority = true
