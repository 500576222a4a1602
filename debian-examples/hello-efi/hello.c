/*
 * hello.efi: prints one line on the console and powers the machine off.
 *
 * Under OVMF with -serial, ConOut is the serial port too, so a test reads
 * the line from QEMU's serial output; the shutdown makes QEMU exit by
 * itself. Firmware that refuses to load the image (Secure Boot, a bad or
 * missing signature) never runs any of this.
 *
 * efi_main is a System V function: gnu-efi's crt0 converts from the
 * firmware's Microsoft calling convention before calling it, while
 * GNU_EFI_USE_MS_ABI makes the firmware's own functions (EFIAPI) ms_abi,
 * so uefi_call_wrapper calls them directly.
 */
#include <efi.h>
#include <efilib.h>

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	(void)image;
	uefi_call_wrapper(st->ConOut->OutputString, 2, st->ConOut,
			  L"hello-efi: Secure Boot OK\r\n");
	uefi_call_wrapper(st->RuntimeServices->ResetSystem, 4,
			  EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS; /* not reached */
}
