/* Entry from the flat-image loader: flat segments, paging and interrupts off. Sets a stack, clears .bss and runs
   kit_main, which never returns (it powers off through a hypercall); halts if it does. */
    .section .text.start, "ax"
    .code32
    .globl _start
_start:
    cli
    mov $__stack_top, %esp
    cld
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    call kit_main
1:  hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
