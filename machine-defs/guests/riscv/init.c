/* The riscv64 initramfs's /init: a few shell commands on the console, in place of busybox, which Debian 12 does not
   build for riscv64 (there is no riscv64 architecture in bookworm, and no deb-src here to cross-build it from).
   Answers uname -a as busybox does, echo, cat FILE, and poweroff. Built static by scripts/linux/New-RiscvInitramfs.ps1. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <unistd.h>

static void cat(const char *path)
{
    char buffer[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("cat: can't open '%s'\n", path);
        return;
    }
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) fwrite(buffer, 1, (size_t)n, stdout);
    close(fd);
}

int main(void)
{
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("virtshell-init: shell on /dev/console\n");
    char line[256];
    for (;;) {
        printf("~ # ");
        if (!fgets(line, sizeof line, stdin)) {
            sleep(1);
            continue;
        }
        line[strcspn(line, "\r\n")] = 0;
        if (strcmp(line, "uname -a") == 0) {
            struct utsname u;
            uname(&u);
            printf("%s %s %s %s %s GNU/Linux\n", u.sysname, u.nodename, u.release, u.version, u.machine);
        } else if (strncmp(line, "echo ", 5) == 0) {
            printf("%s\n", line + 5);
        } else if (strncmp(line, "cat ", 4) == 0) {
            cat(line + 4);
        } else if (strcmp(line, "poweroff") == 0) {
            sync();
            reboot(RB_POWER_OFF);
        } else if (line[0]) {
            printf("sh: %s: not found\n", line);
        }
    }
}
