module github.com/mksigned/mksigned

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/klauspost/compress v1.18.0
	github.com/ulikunitz/xz v0.5.17
	github.com/xi2/xz v0.0.0-20171230120015-48954b6210f8
	golang.org/x/crypto v0.40.0
	pault.ag/go/debian v0.19.0
)

require pault.ag/go/topsort v0.1.1 // indirect
