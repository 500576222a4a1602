//go:build !linux

package job

// lowerPriority does nothing where priority is not per thread.
func lowerPriority() bool { return false }

const canLowerPriority = false
