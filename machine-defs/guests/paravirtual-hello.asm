; An adapted guest for the paravirtual model: no legacy hardware at all. It drives a virtio-console over virtio-mmio
; to print, asks the host for a named blob and logs a line through the hypercall channel (docs/hypercalls.md), then
; powers off by hypercall with status 7. Loaded as a flat image in 32-bit protected mode with flat segments.

bits 32
org 0x100000

VIRTIO      equ 0xd0000000      ; virtioConsole({ address }) in the definition
HYPERCALL   equ 0x5650          ; hypercalls({ port })
QUEUE_SIZE  equ 8
DESC        equ 0x80000         ; the transmit queue's three areas, and the hypercall block, below 1 MiB
AVAIL       equ 0x81000
USED        equ 0x82000
BLOCK       equ 0x83000
BLOB        equ 0x84000
BLOB_MAX    equ 256

; virtio-mmio version 2 registers
MMIO_DRIVER_FEATURES     equ 0x20
MMIO_DRIVER_FEATURES_SEL equ 0x24
MMIO_QUEUE_SEL           equ 0x30
MMIO_QUEUE_NUM           equ 0x38
MMIO_QUEUE_READY         equ 0x44
MMIO_QUEUE_NOTIFY        equ 0x50
MMIO_STATUS              equ 0x70
MMIO_QUEUE_DESC          equ 0x80
MMIO_QUEUE_AVAIL         equ 0x90
MMIO_QUEUE_USED          equ 0xa0
TRANSMITQ0               equ 1

HC_LOG       equ 1
HC_POWER_OFF equ 3
HC_READ_BLOB equ 4

start:
    mov esp, 0x7c00
    mov ebx, VIRTIO
    mov dword [ebx + MMIO_STATUS], 0                ; reset
    mov dword [ebx + MMIO_STATUS], 3                ; ACKNOWLEDGE | DRIVER
    mov dword [ebx + MMIO_DRIVER_FEATURES_SEL], 1
    mov dword [ebx + MMIO_DRIVER_FEATURES], 1       ; VIRTIO_F_VERSION_1 (feature bit 32), nothing else
    mov dword [ebx + MMIO_STATUS], 11               ; | FEATURES_OK
    mov dword [ebx + MMIO_QUEUE_SEL], TRANSMITQ0
    mov dword [ebx + MMIO_QUEUE_NUM], QUEUE_SIZE
    mov dword [ebx + MMIO_QUEUE_DESC], DESC
    mov dword [ebx + MMIO_QUEUE_AVAIL], AVAIL
    mov dword [ebx + MMIO_QUEUE_USED], USED
    mov dword [ebx + MMIO_QUEUE_READY], 1
    mov dword [ebx + MMIO_STATUS], 15               ; | DRIVER_OK

    mov esi, greeting
    mov ecx, greeting_len
    call send

    ; READ_BLOB "greeting" into BLOB, then print what came back
    mov eax, HC_READ_BLOB
    mov dword [BLOCK + 8], blob_name
    mov dword [BLOCK + 16], blob_name_len
    mov dword [BLOCK + 24], BLOB
    mov dword [BLOCK + 32], BLOB_MAX
    mov dword [BLOCK + 40], 0
    call hypercall
    test eax, eax
    js .no_blob
    mov esi, BLOB
    mov ecx, eax
    call send
.no_blob:
    mov eax, HC_LOG
    mov dword [BLOCK + 8], log_text
    mov dword [BLOCK + 16], log_text_len
    call hypercall

    mov esi, goodbye
    mov ecx, goodbye_len
    call send

    mov eax, HC_POWER_OFF
    mov dword [BLOCK + 8], 7
    call hypercall
.halt:
    hlt
    jmp .halt

; Transmits ECX bytes at ESI through transmitq0 and waits until the device has used the buffer.
send:
    mov [DESC], esi                                 ; descriptor 0: addr (low 32 bits), len, flags 0, next 0
    mov dword [DESC + 4], 0
    mov [DESC + 8], ecx
    mov dword [DESC + 12], 0
    movzx eax, word [AVAIL + 2]                     ; avail.idx
    mov edx, eax
    and edx, QUEUE_SIZE - 1
    mov word [AVAIL + 4 + edx * 2], 0               ; ring[idx % size] = descriptor 0
    inc eax
    mov [AVAIL + 2], ax
    mov dword [ebx + MMIO_QUEUE_NOTIFY], TRANSMITQ0
.wait:
    cmp ax, [USED + 2]                              ; used.idx catches up when the device is done
    jne .wait
    ret

; Makes hypercall EAX with the arguments already in the block; returns its status in EAX.
hypercall:
    mov dword [BLOCK], 0x43485356                   ; "VSHC"
    mov [BLOCK + 4], eax
    mov dx, HYPERCALL
    mov eax, BLOCK
    out dx, eax
    mov eax, [BLOCK + 48]
    ret

greeting      db "Hello from a paravirtual guest: virtio-console, no UART.", 13, 10
greeting_len  equ $ - greeting
goodbye       db "Powering off through a hypercall.", 13, 10
goodbye_len   equ $ - goodbye
blob_name     db "greeting"
blob_name_len equ $ - blob_name
log_text      db "the paravirtual guest read its blob"
log_text_len  equ $ - log_text
