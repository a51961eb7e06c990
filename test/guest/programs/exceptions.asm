; Every exception vector an i686 can raise, one after another, in flat 32-bit protected mode with
; paging on: its own GDT, IDT and TSS in RAM; the low 4 MiB identity-mapped (user pages, except a
; supervisor page at 0x300000) and 0x400000 not present. Each case arms a recovery label; the
; common handler records (vector, error code, CR2), drops the exception frame, and jumps there.
; One line per case, e.g. `#PF e=0002 cr2=00400000` (and DR6 for #DB), with ` BAD` appended when the vector, error
; code or CR2 is not the expected one; then exits through port 0xF4 with 0x3c (all as expected)
; or 0x3d (some case BAD).
%include "common.inc"

%define GDT_RAM   0x0800
%define IDT_RAM   0x1000
%define TSS0      0x2000
%define PD        0x10000
%define PT0       0x11000
%define PT1       0x12000
%define KSTACK    0x80000      ; the test code's stack
%define KSTACK0   0x90000      ; TSS.ESP0: where ring 3 -> ring 0 exceptions land
%define USTACK    0x70000
%define NOTPRESENT 0x400000
%define SUPERPAGE 0x300000

; variables in RAM
%define g_vec      0x600
%define g_err      0x604
%define g_cr2      0x608
%define g_recover  0x60c
%define g_saved    0x610
%define g_xvec     0x614
%define g_xerr     0x618
%define g_xcr2     0x61c
%define g_fail     0x620
%define g_tmp      0x624
%define g_dr6      0x628
%define gdt_ptr_ram 0x630

; BEGIN arms the recovery label; END vec, err[, cr2] reports the case.
%macro BEGIN 0
  %push case
    mov dword [g_recover], %$done
    mov [g_saved], esp
%endmacro
%macro END 2-3 0
    mov dword [g_vec], 0xff        ; fell through: no exception
    mov dword [g_err], 0
    mov dword [g_recover], 0
%$done:
    mov dword [g_xvec], %1
    mov dword [g_xerr], %2
    mov dword [g_xcr2], %3
    call report
  %pop
%endmacro
; USER entry, ss, esp, eflags: IRET to ring 3.
%macro USER 4
    push dword %2
    push dword %3
    push dword %4
    push dword 0x1b
    push dword %1
    mov ax, 0x23
    mov ds, ax
    mov es, ax
    iretd
%endmacro

bits 16
org 0xf0000
start:
    cli
    ENTER_PM cs:gdt_ptr - $$, pm_entry

bits 32
pm_entry:
    FLAT_DATA
    mov esp, KSTACK
    cld
    ; zero the variables, IDT, TSS and page tables
    xor eax, eax
    mov edi, 0x600
    mov ecx, (0x3000 - 0x600) / 4
    rep stosd
    mov edi, PD
    mov ecx, 0x3000 / 4
    rep stosd
    ; GDT into RAM (LTR writes the busy bit)
    mov esi, gdt
    mov edi, GDT_RAM
    mov ecx, gdt_len / 4
    rep movsd
    mov word [gdt_ptr_ram], gdt_len - 1
    mov dword [gdt_ptr_ram + 2], GDT_RAM
    lgdt [gdt_ptr_ram]
    ; IDT: 32 interrupt gates at DPL 0, and vector 0x30 at DPL 3 (ring 3 "no exception")
    xor ecx, ecx
.idt:
    mov eax, [stubs + ecx * 4]
    mov edx, eax
    and eax, 0xffff
    or eax, 0x00080000
    mov [IDT_RAM + ecx * 8], eax
    and edx, 0xffff0000
    or edx, 0x8e00
    mov [IDT_RAM + ecx * 8 + 4], edx
    inc ecx
    cmp ecx, 32
    jb .idt
    mov eax, stub_none
    mov edx, eax
    and eax, 0xffff
    or eax, 0x00080000
    mov [IDT_RAM + 0x30 * 8], eax
    and edx, 0xffff0000
    or edx, 0xee00
    mov [IDT_RAM + 0x30 * 8 + 4], edx
    lidt [idt_ptr]
    ; TSS: SS0:ESP0, no I/O bitmap
    mov dword [TSS0 + 4], KSTACK0
    mov dword [TSS0 + 8], 0x10
    mov word [TSS0 + 0x66], 0x68
    mov ax, 0x28
    ltr ax
    ; paging: PDE0 -> PT0 (identity, user), PDE1 -> PT1 (all not present)
    mov dword [PD], PT0 | 7
    mov dword [PD + 4], PT1 | 7
    xor ecx, ecx
.pt:
    mov eax, ecx
    shl eax, 12
    or eax, 7
    mov [PT0 + ecx * 4], eax
    inc ecx
    cmp ecx, 1024
    jb .pt
    mov dword [PT0 + (SUPERPAGE >> 12) * 4], SUPERPAGE | 3
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    and eax, 0x9ffffff3            ; caches on, EM=0, TS=0
    or eax, 0x80000022             ; PG, NE, MP
    mov cr0, eax
    jmp .paged
.paged:

    ; ---- #DE: divide by zero
    BEGIN
    xor ecx, ecx
    mov eax, 1
    xor edx, edx
    div ecx
    END 0, 0

    ; ---- #DB: single step (TF set by POPF traps after the next instruction)
    BEGIN
    pushfd
    or dword [esp], 0x100
    popfd
    nop
    nop
    END 1, 0

    ; ---- NMI is an interrupt, not an exception
    mov esi, s_nmi
    call puts

    ; ---- #BP: int3
    BEGIN
    int3
    END 3, 0

    ; ---- #OF: into after a signed overflow
    BEGIN
    mov al, 0x7f
    add al, 1
    into
    END 4, 0

    ; ---- #BR: bound with the index above the upper bound
    BEGIN
    mov eax, 20
    bound eax, [bounds]
    END 5, 0

    ; ---- #UD: ud2, 0F FF (UD0), and LOCK on a register-destination ADD
    BEGIN
    ud2
    END 6, 0
    BEGIN
    db 0x0f, 0xff, 0xc0
    END 6, 0
    BEGIN
    db 0xf0, 0x01, 0xd8            ; lock add eax, ebx
    END 6, 0

    ; ---- #NM: CR0.TS then an x87 instruction
    mov eax, cr0
    or eax, 8
    mov cr0, eax
    BEGIN
    fld1
    END 7, 0
    clts

    ; ---- #DF: #GP whose gate is not present -> #NP while delivering -> #DF(0)
    and byte [IDT_RAM + 13 * 8 + 5], 0x7f
    BEGIN
    mov ax, 0x1f8
    mov es, ax
    END 8, 0
    or byte [IDT_RAM + 13 * 8 + 5], 0x80

    ; ---- coprocessor segment overrun: an i486 or later never raises it
    mov esi, s_cso
    call puts

    ; ---- #TS: far JMP to a 32-bit TSS whose limit is below 0x67
    BEGIN
    jmp 0x40:0
    END 10, 0x40

    ; ---- #NP: load DS with a not-present data segment
    BEGIN
    mov ax, 0x30
    mov ds, ax
    END 11, 0x30

    ; ---- #SS: load SS with a not-present segment (error code = selector)
    BEGIN
    mov ax, 0x30
    mov ss, ax
    END 12, 0x30

    ; ---- #SS: ring 3 with a stack segment whose limit is 0x6ffff, PUSH below ESP 0x70004
    BEGIN
    USER user_push, 0x4b, USTACK + 4, 0x2
    END 12, 0

    ; ---- #GP: a selector beyond the GDT limit, then HLT at CPL 3
    BEGIN
    mov ax, 0x1f8
    mov es, ax
    END 13, 0x1f8
    BEGIN
    USER user_hlt, 0x23, USTACK, 0x2
    END 13, 0

    ; ---- #PF: read and write a not-present page, user write to a supervisor page
    BEGIN
    mov eax, [NOTPRESENT]
    END 14, 0, NOTPRESENT
    BEGIN
    mov dword [NOTPRESENT + 0x10], 1
    END 14, 2, NOTPRESENT + 0x10
    BEGIN
    USER user_write, 0x23, USTACK, 0x2
    END 14, 7, SUPERPAGE + 4

    ; ---- #MF: unmasked x87 zero divide, reported by FWAIT (CR0.NE=1)
    fninit
    fnstcw [g_tmp]
    and word [g_tmp], ~4
    fldcw [g_tmp]
    BEGIN
    fldz
    fld1
    fdiv st0, st1
    fwait
    END 16, 0
    fninit

    ; ---- #AC: CR0.AM, EFLAGS.AC at CPL 3, a misaligned dword load
    mov eax, cr0
    or eax, 0x40000
    mov cr0, eax
    BEGIN
    USER user_misaligned, 0x23, USTACK, 0x40002
    END 17, 0
    mov eax, cr0
    and eax, ~0x40000
    mov cr0, eax

    ; ---- machine check: needs a hardware error
    mov esi, s_mc
    call puts

    ; ---- #XM: CR4.OSFXSR|OSXMMEXCPT, MXCSR zero-divide unmasked, DIVSS by zero
    mov eax, cr4
    or eax, 0x600
    mov cr4, eax
    mov dword [g_tmp], 0x1f80 & ~0x200
    ldmxcsr [g_tmp]
    BEGIN
    xorps xmm1, xmm1
    movss xmm0, [one]
    divss xmm0, xmm1
    END 19, 0

    mov al, 0x3c
    cmp dword [g_fail], 0
    je .exit
    mov al, 0x3d
.exit:
    out DEBUG_EXIT, al
    hlt
    jmp .exit

; ring 3 bodies: each should fault; falling through reaches INT 0x30 ("none")
user_push:
    push eax
    int 0x30
user_hlt:
    hlt
    int 0x30
user_write:
    mov dword [SUPERPAGE + 4], 1
    int 0x30
user_misaligned:
    mov eax, [USTACK - 0x100 + 1]
    int 0x30

; ---- exception stubs: push a 0 error code where the CPU pushes none, then the vector
%assign i 0
%rep 32
stub_ %+ i:
  %if i == 8 || (i >= 10 && i <= 14) || i == 17
  %else
    push dword 0
  %endif
    push dword i
    jmp exc_common
%assign i i + 1
%endrep
stub_none:
    push dword 0
    push dword 0xff
    jmp exc_common

stubs:
%assign i 0
%rep 32
    dd stub_ %+ i
%assign i i + 1
%endrep

exc_common:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    pop dword [g_vec]
    pop dword [g_err]
    mov eax, cr2
    mov [g_cr2], eax
    mov eax, dr6
    mov [g_dr6], eax
    mov ebx, [g_recover]
    test ebx, ebx
    jz .unexpected
    mov dword [g_recover], 0
    mov ax, 0x10
    mov ss, ax
    mov esp, [g_saved]
    jmp ebx
.unexpected:
    mov esi, s_unexpected
    call puts
    call report
    mov al, 0x3e
    out DEBUG_EXIT, al
    hlt
    jmp .unexpected

; report: prints "<name> e=XXXX[ cr2=XXXXXXXX][ BAD]" for g_vec/g_err/g_cr2 against g_x*
report:
    mov eax, [g_vec]
    mov esi, s_none
    cmp eax, 32
    jae .name
    lea esi, [names + eax * 8]
.name:
    call puts
    mov esi, s_e
    call puts
    mov eax, [g_err]
    mov ecx, 4
    call puthex
    cmp dword [g_vec], 1
    jne .nodr6
    mov esi, s_dr6
    call puts
    mov eax, [g_dr6]
    mov ecx, 8
    call puthex
.nodr6:
    cmp dword [g_vec], 14
    jne .cmp
    mov esi, s_cr2
    call puts
    mov eax, [g_cr2]
    mov ecx, 8
    call puthex
.cmp:
    mov eax, [g_vec]
    cmp eax, [g_xvec]
    jne .bad
    mov eax, [g_err]
    cmp eax, [g_xerr]
    jne .bad
    cmp dword [g_vec], 14
    jne .ok
    mov eax, [g_cr2]
    cmp eax, [g_xcr2]
    je .ok
.bad:
    mov esi, s_bad
    call puts
    inc dword [g_fail]
.ok:
    mov al, 10
    call putc
    ret

putc:
    push edx
    push eax
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

puts:
    push eax
.l:
    lodsb
    test al, al
    jz .d
    call putc
    jmp .l
.d:
    pop eax
    ret

; puthex: eax, ecx hex digits
puthex:
    pushad
    mov edx, eax
.l:
    dec ecx
    js .d
    mov eax, edx
    push ecx
    shl ecx, 2
    shr eax, cl
    pop ecx
    and eax, 0xf
    mov al, [hexdigits + eax]
    call putc
    jmp .l
.d:
    popad
    ret

hexdigits: db "0123456789abcdef"
s_e: db " e=", 0
s_cr2: db " cr2=", 0
s_dr6: db " dr6=", 0
s_bad: db " BAD", 0
s_none: db "none", 0
s_unexpected: db "unexpected ", 0
s_nmi: db "#NMI skip (an interrupt, not an exception)", 10, 0
s_cso: db "#CSO skip (never raised after the i386)", 10, 0
s_mc: db "#MC skip (needs a hardware error)", 10, 0
align 8
names:
    db "#DE", 0, 0, 0, 0, 0
    db "#DB", 0, 0, 0, 0, 0
    db "#NMI", 0, 0, 0, 0
    db "#BP", 0, 0, 0, 0, 0
    db "#OF", 0, 0, 0, 0, 0
    db "#BR", 0, 0, 0, 0, 0
    db "#UD", 0, 0, 0, 0, 0
    db "#NM", 0, 0, 0, 0, 0
    db "#DF", 0, 0, 0, 0, 0
    db "#CSO", 0, 0, 0, 0
    db "#TS", 0, 0, 0, 0, 0
    db "#NP", 0, 0, 0, 0, 0
    db "#SS", 0, 0, 0, 0, 0
    db "#GP", 0, 0, 0, 0, 0
    db "#PF", 0, 0, 0, 0, 0
    db "#15", 0, 0, 0, 0, 0
    db "#MF", 0, 0, 0, 0, 0
    db "#AC", 0, 0, 0, 0, 0
    db "#MC", 0, 0, 0, 0, 0
    db "#XM", 0, 0, 0, 0, 0
%assign i 20
%rep 12
    db "#", '0' + i / 10, '0' + i % 10, 0, 0, 0, 0, 0
%assign i i + 1
%endrep

align 4
bounds: dd 0, 10
one: dd 1.0
idt_ptr:
    dw 0x30 * 8 + 7
    dd IDT_RAM

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff   ; 0x08: flat 32-bit code, DPL 0
    dq 0x00cf92000000ffff   ; 0x10: flat data, DPL 0
    dq 0x00cffa000000ffff   ; 0x18: flat 32-bit code, DPL 3
    dq 0x00cff2000000ffff   ; 0x20: flat data, DPL 3
    dq 0x0000890020000067   ; 0x28: the TSS at 0x2000
    dq 0x00cf12000000ffff   ; 0x30: data, not present
    dq 0                    ; 0x38: unused
    dq 0x0000890030000020   ; 0x40: a 32-bit TSS with limit 0x20 (too small)
    dq 0x0046f2000000ffff   ; 0x48: ring 3 data/stack, byte granular, limit 0x6ffff
gdt_len equ $ - gdt
gdt_ptr:
    dw gdt_len - 1
    dd gdt

bits 16
times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start - $$
times 0x10000 - ($ - $$) db 0
