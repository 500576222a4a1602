//go:build !linux

package main

import "errors"

// notify is inotify's, which this system does not have: watch polls.
func notify(string) (<-chan struct{}, func(), error) {
	return nil, nil, errors.New("inotify is Linux's")
}
