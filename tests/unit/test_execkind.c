/* test_execkind.c — a program's kind at exec: real programs of every kind
 * (this dynamic test binary, the static helpers and the Go programs `make`
 * builds), scripts, ELF files made here byte by byte, and files that are no
 * program at all (missing, cut, garbage, a directory, a FIFO nobody
 * writes). None may hang or crash the caller. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/execkind.h"

static char g_dir[256];

static void mkdir_tmp(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ps-execkind-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void rm_tmp(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(execkind, .init = mkdir_tmp, .fini = rm_tmp, .timeout = 30);

static const char *tmp(const char *name)
{
    static char buf[4][PATH_MAX];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, PATH_MAX, "%s/%s", g_dir, name);
    return b;
}

static void put(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    cr_assert_eq(chmod(path, mode), 0);
}

/* build/NAME (PORTSHIM_BUILD, else the directory above this binary's). */
static const char *built(const char *name)
{
    static char buf[4][PATH_MAX];
    static int next;
    char *b = buf[next++ % 4];
    const char *env = getenv("PORTSHIM_BUILD");
    if (env && *env) {
        snprintf(b, PATH_MAX, "%s/%s", env, name);
    } else {
        char self[PATH_MAX - 64];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        cr_assert_gt(n, 0);
        self[n] = '\0';
        *strrchr(self, '/') = '\0';   /* build/tests */
        *strrchr(self, '/') = '\0';   /* build */
        snprintf(b, PATH_MAX, "%s/%s", self, name);
    }
    return b;
}

static const char *need_built(const char *name, const char *how)
{
    const char *p = built(name);
    if (access(p, X_OK))
        cr_skip_test("%s is not built (%s): skipped", p, how);
    return p;
}

/* ---- real programs -------------------------------------------------------- */

Test(execkind, this_dynamically_linked_test_binary_is_dynamic)
{
    cr_assert_eq(ps_exec_kind_of("/proc/self/exe"), PS_EXEC_DYNAMIC);
    cr_assert_not(ps_exec_needs_supervisor(PS_EXEC_DYNAMIC));
}

Test(execkind, a_statically_linked_c_program_is_static_and_needs_the_supervisor)
{
    const char *p = need_built("static/echo-server", "make all builds it with cc -static");
    cr_assert_eq(ps_exec_kind_of(p), PS_EXEC_STATIC, "%s", p);
    cr_assert(ps_exec_needs_supervisor(PS_EXEC_STATIC));
}

Test(execkind, a_go_program_linked_dynamically_is_go_and_needs_the_supervisor)
{
    const char *p = need_built("go/gohttp", "make go builds it when Go is installed");
    cr_assert_eq(ps_exec_kind_of(p), PS_EXEC_GO, "%s", p);
    cr_assert(ps_exec_needs_supervisor(PS_EXEC_GO));
}

/* Linked by the system's linker (cgo with C code of its own): GNU notes
 * first, Go's note after them, and a GNU build id, so no section is read. */
Test(execkind, a_go_program_linked_externally_is_go_by_its_note)
{
    const char *p = need_built("go/gocgo", "make go builds it when Go is installed");
    cr_assert_eq(ps_exec_kind_of(p), PS_EXEC_GO, "%s", p);
}

Test(execkind, a_go_program_linked_statically_is_go)
{
    const char *p = need_built("go/gohttp-static", "make go builds it when Go is installed");
    cr_assert_eq(ps_exec_kind_of(p), PS_EXEC_GO, "%s", p);
}

Test(execkind, a_go_program_without_its_build_id_note_is_still_go_by_its_sections)
{
    const char *p = need_built("go/gohttp", "make go builds it when Go is installed");
    if (system("command -v objcopy >/dev/null 2>&1"))
        cr_skip_test("objcopy (binutils) is not installed: skipped");
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "objcopy --remove-section .note.go.buildid '%s' '%s'", p,
             tmp("stripped"));
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert_eq(ps_exec_kind_of(tmp("stripped")), PS_EXEC_GO);
}

/* ---- scripts ------------------------------------------------------------------ */

static enum ps_exec_kind script(const char *text)
{
    put(tmp("script"), text, strlen(text), 0755);
    return ps_exec_kind_of(tmp("script"));
}

Test(execkind, a_script_is_of_its_interpreters_kind)
{
    cr_assert_eq(script("#!/bin/sh\necho hi\n"), PS_EXEC_DYNAMIC);
    const char *st = need_built("static/echo-server", "make all builds it");
    char text[PATH_MAX + 64];
    snprintf(text, sizeof text, "#! %s --name x\n", st);
    cr_assert_eq(script(text), PS_EXEC_STATIC, "%s", text);
    snprintf(text, sizeof text, "#!%s", st);   /* no newline at all: the kernel runs it */
    cr_assert_eq(script(text), PS_EXEC_STATIC, "%s", text);
    const char *go = built("go/gohttp");
    if (access(go, X_OK) == 0) {
        snprintf(text, sizeof text, "#!%s\tserve\n", go);
        cr_assert_eq(script(text), PS_EXEC_GO, "%s", text);
    }
}

Test(execkind, a_script_run_by_a_script_is_unknown_one_level_only)
{
    put(tmp("inner"), "#!/bin/sh\n", 10, 0755);
    char text[PATH_MAX + 8];
    snprintf(text, sizeof text, "#!%s\n", tmp("inner"));
    cr_assert_eq(script(text), PS_EXEC_UNKNOWN);
}

Test(execkind, shebang_lines_that_name_no_program_are_unknown)
{
    cr_assert_eq(script("#!\n"), PS_EXEC_UNKNOWN);
    cr_assert_eq(script("#!   \n"), PS_EXEC_UNKNOWN);
    cr_assert_eq(script("#!/no/such/interpreter\n"), PS_EXEC_UNKNOWN);
    char text[400];
    memset(text, 'a', sizeof text);
    memcpy(text, "#!/", 3);
    text[sizeof text - 1] = '\0';   /* longer than the kernel reads */
    cr_assert_eq(script(text), PS_EXEC_UNKNOWN);
    cr_assert_eq(script("echo no shebang\n"), PS_EXEC_UNKNOWN);
}

/* ---- not programs --------------------------------------------------------- */

Test(execkind, missing_empty_and_odd_paths_are_unknown)
{
    cr_assert_eq(ps_exec_kind_of(tmp("missing")), PS_EXEC_UNKNOWN);
    cr_assert_eq(ps_exec_kind_of(""), PS_EXEC_UNKNOWN);
    cr_assert_eq(ps_exec_kind_of(NULL), PS_EXEC_UNKNOWN);
    put(tmp("empty"), "", 0, 0755);
    cr_assert_eq(ps_exec_kind_of(tmp("empty")), PS_EXEC_UNKNOWN);
    put(tmp("tiny"), "\177EL", 3, 0755);
    cr_assert_eq(ps_exec_kind_of(tmp("tiny")), PS_EXEC_UNKNOWN);
}

Test(execkind, a_directory_is_unknown)
{
    cr_assert_eq(ps_exec_kind_of(g_dir), PS_EXEC_UNKNOWN);
    cr_assert_eq(ps_exec_kind_of("/"), PS_EXEC_UNKNOWN);
}

Test(execkind, a_fifo_nobody_writes_is_unknown_and_never_waited_on)
{
    cr_assert_eq(mkfifo(tmp("fifo"), 0755), 0, "%s", strerror(errno));
    /* in a child, so that a hang is a failure of this test, not of the suite */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(10);
        _exit(ps_exec_kind_of(tmp("fifo")) == PS_EXEC_UNKNOWN ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

Test(execkind, a_device_is_unknown)
{
    cr_assert_eq(ps_exec_kind_of("/dev/null"), PS_EXEC_UNKNOWN);
}

/* Every prefix of a real static program, and the program with garbage
 * written over its headers: never a crash, and never DYNAMIC or GO. */
Test(execkind, cut_and_garbled_elf_files_are_never_a_crash)
{
    const char *st = need_built("static/echo-server", "make all builds it");
    int fd = open(st, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    static unsigned char img[8192];
    cr_assert_eq(read(fd, img, sizeof img), (ssize_t)sizeof img);
    close(fd);
    for (size_t len = 0; len < 200; len++) {
        put(tmp("cut"), img, len, 0755);
        cr_assert_eq(ps_exec_kind_of(tmp("cut")), PS_EXEC_UNKNOWN, "first %zu bytes", len);
    }
    srandom(42);
    for (int round = 0; round < 500; round++) {
        static unsigned char g[8192];
        memcpy(g, img, sizeof g);
        for (int k = 0; k < 8; k++)
            g[SELFMAG + (size_t)random() % 1024] = (unsigned char)random();
        put(tmp("garbled"), g, sizeof g, 0755);
        enum ps_exec_kind kd = ps_exec_kind_of(tmp("garbled"));
        cr_assert(kd == PS_EXEC_UNKNOWN || kd == PS_EXEC_STATIC || kd == PS_EXEC_DYNAMIC ||
                  kd == PS_EXEC_GO, "round %d: %d", round, kd);
    }
}

/* ---- ELF files made here ----------------------------------------------------- */

/* A little-endian ELF64 executable: header, program headers, then whatever
 * the test appends. */
struct mkelf {
    unsigned char b[16384];
    size_t len;
    Elf64_Ehdr *eh;
};

static void mk_init(struct mkelf *m, int nph)
{
    memset(m, 0, sizeof *m);
    m->eh = (Elf64_Ehdr *)m->b;
    memcpy(m->eh->e_ident, ELFMAG, SELFMAG);
    m->eh->e_ident[EI_CLASS] = ELFCLASS64;
    m->eh->e_ident[EI_DATA] = ELFDATA2LSB;
    m->eh->e_ident[EI_VERSION] = EV_CURRENT;
    m->eh->e_type = ET_EXEC;
    m->eh->e_machine = EM_X86_64;
    m->eh->e_version = EV_CURRENT;
    m->eh->e_phoff = sizeof(Elf64_Ehdr);
    m->eh->e_phentsize = sizeof(Elf64_Phdr);
    m->eh->e_phnum = (Elf64_Half)nph;
    m->eh->e_ehsize = sizeof(Elf64_Ehdr);
    m->len = sizeof(Elf64_Ehdr) + (size_t)nph * sizeof(Elf64_Phdr);
}

static Elf64_Phdr *mk_ph(struct mkelf *m, int i)
{
    return (Elf64_Phdr *)(m->b + sizeof(Elf64_Ehdr)) + i;
}

/* A note at offset off (0: at the end): returns its size. */
static size_t mk_note(struct mkelf *m, size_t off, const char *name, uint32_t type, size_t desc)
{
    if (!off)
        off = m->len;
    uint32_t nsz = (uint32_t)strlen(name) + 1, dsz = (uint32_t)desc;
    memcpy(m->b + off, &nsz, 4);
    memcpy(m->b + off + 4, &dsz, 4);
    memcpy(m->b + off + 8, &type, 4);
    memcpy(m->b + off + 12, name, nsz);
    size_t size = 12 + ((nsz + 3u) & ~3u) + ((desc + 3u) & ~3u);
    if (off + size > m->len)
        m->len = off + size;
    return size;
}

static enum ps_exec_kind mk_kind(struct mkelf *m)
{
    put(tmp("made"), m->b, m->len, 0755);
    return ps_exec_kind_of(tmp("made"));
}

Test(execkind, an_elf_with_an_interpreter_is_dynamic_and_without_one_static)
{
    struct mkelf m;
    mk_init(&m, 2);
    mk_ph(&m, 0)->p_type = PT_LOAD;
    mk_ph(&m, 1)->p_type = PT_INTERP;
    cr_assert_eq(mk_kind(&m), PS_EXEC_DYNAMIC);
    mk_ph(&m, 1)->p_type = PT_GNU_STACK;
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
}

Test(execkind, a_go_build_id_note_makes_a_go_program_dynamic_or_not)
{
    struct mkelf m;
    mk_init(&m, 3);
    mk_ph(&m, 0)->p_type = PT_INTERP;
    mk_ph(&m, 1)->p_type = PT_NOTE;   /* a GNU note first, then Go's */
    mk_ph(&m, 1)->p_offset = m.len;
    mk_ph(&m, 1)->p_filesz = mk_note(&m, 0, "GNU", NT_GNU_BUILD_ID, 20);
    mk_ph(&m, 2)->p_type = PT_NOTE;
    mk_ph(&m, 2)->p_offset = m.len;
    mk_ph(&m, 2)->p_filesz = mk_note(&m, 0, "Go", 4, 83);
    cr_assert_eq(mk_kind(&m), PS_EXEC_GO);
    mk_ph(&m, 0)->p_type = PT_LOAD;
    cr_assert_eq(mk_kind(&m), PS_EXEC_GO);
    /* the name as Go's linker writes it: "Go\0\0", namesz 4 */
    uint32_t four = 4;
    memcpy(m.b + mk_ph(&m, 2)->p_offset, &four, 4);
    cr_assert_eq(mk_kind(&m), PS_EXEC_GO);
    m.b[mk_ph(&m, 2)->p_offset + 12 + 3] = 'x';   /* "Gox" is someone else's */
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
    /* a "Go" note of another type is not the build id */
    mk_note(&m, mk_ph(&m, 2)->p_offset, "Go", 1, 83);
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
}

Test(execkind, a_go_note_placed_past_the_first_page_is_read_too)
{
    struct mkelf m;
    mk_init(&m, 1);
    mk_ph(&m, 0)->p_type = PT_NOTE;
    mk_ph(&m, 0)->p_offset = 9000;
    mk_ph(&m, 0)->p_filesz = mk_note(&m, 9000, "Go", 4, 40);
    cr_assert_eq(mk_kind(&m), PS_EXEC_GO);
}

Test(execkind, program_headers_placed_past_the_first_page_are_read_too)
{
    struct mkelf m;
    mk_init(&m, 0);
    m.eh->e_phnum = 2;
    m.eh->e_phoff = 6000;
    Elf64_Phdr *ph = (Elf64_Phdr *)(m.b + 6000);
    ph[0].p_type = PT_LOAD;
    ph[1].p_type = PT_INTERP;
    m.len = 6000 + 2 * sizeof *ph;
    cr_assert_eq(mk_kind(&m), PS_EXEC_DYNAMIC);
}

Test(execkind, notes_with_sizes_that_lie_stop_the_walk_without_harm)
{
    static const uint32_t lies[][2] = {
        {0xffffffffu, 0}, {4, 0xffffffffu}, {0xfffffff0u, 0xfffffff0u}, {3, 0x7ffffff0u},
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        struct mkelf m;
        mk_init(&m, 1);
        mk_ph(&m, 0)->p_type = PT_NOTE;
        mk_ph(&m, 0)->p_offset = m.len;
        mk_ph(&m, 0)->p_filesz = mk_note(&m, 0, "Go", 4, 8);
        memcpy(m.b + mk_ph(&m, 0)->p_offset, lies[i], 8);
        cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC, "lie %zu", i);
    }
    /* a note segment claiming more than the file has */
    struct mkelf m;
    mk_init(&m, 1);
    mk_ph(&m, 0)->p_type = PT_NOTE;
    mk_ph(&m, 0)->p_offset = 1u << 30;
    mk_ph(&m, 0)->p_filesz = 1u << 20;
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
    mk_ph(&m, 0)->p_offset = UINT64_MAX - 2;
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
}

Test(execkind, headers_that_lie_make_the_file_unknown)
{
    struct mkelf m;
    mk_init(&m, 1);
    mk_ph(&m, 0)->p_type = PT_LOAD;
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
    m.eh->e_phnum = 0xffff;                 /* a table far past the file */
    cr_assert_eq(mk_kind(&m), PS_EXEC_UNKNOWN);
    m.eh->e_phnum = 1;
    m.eh->e_phentsize = 7;
    cr_assert_eq(mk_kind(&m), PS_EXEC_UNKNOWN);
    m.eh->e_phentsize = sizeof(Elf64_Phdr);
    m.eh->e_phoff = UINT64_MAX - 8;
    cr_assert_eq(mk_kind(&m), PS_EXEC_UNKNOWN);
    m.eh->e_phoff = sizeof(Elf64_Ehdr);
    m.eh->e_phnum = 0;
    cr_assert_eq(mk_kind(&m), PS_EXEC_UNKNOWN);
    m.eh->e_phnum = 1;
    m.eh->e_ident[EI_CLASS] = 7;
    cr_assert_eq(mk_kind(&m), PS_EXEC_UNKNOWN);
    m.eh->e_ident[EI_CLASS] = ELFCLASS64;
    m.eh->e_ident[EI_DATA] = ELFDATA2MSB;   /* another machine's byte order */
    cr_assert_eq(mk_kind(&m), PS_EXEC_UNKNOWN);
}

Test(execkind, an_elf32_program_is_read_by_its_own_layout)
{
    unsigned char b[512] = {0};
    Elf32_Ehdr *eh = (Elf32_Ehdr *)b;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS32;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_type = ET_EXEC;
    eh->e_phoff = sizeof *eh;
    eh->e_phentsize = sizeof(Elf32_Phdr);
    eh->e_phnum = 1;
    Elf32_Phdr *ph = (Elf32_Phdr *)(b + sizeof *eh);
    ph->p_type = PT_INTERP;
    put(tmp("elf32"), b, sizeof b, 0755);
    cr_assert_eq(ps_exec_kind_of(tmp("elf32")), PS_EXEC_DYNAMIC);
    ph->p_type = PT_LOAD;
    put(tmp("elf32"), b, sizeof b, 0755);
    cr_assert_eq(ps_exec_kind_of(tmp("elf32")), PS_EXEC_STATIC);
}

/* Section headers and their names at the end, as linkers place them. */
static void mk_sections(struct mkelf *m, const char *const *names, int n)
{
    size_t stroff = m->len, pos = 1;
    m->b[stroff] = '\0';
    uint32_t at[8];
    for (int i = 0; i < n; i++) {
        at[i] = (uint32_t)pos;
        strcpy((char *)m->b + stroff + pos, names[i]);
        pos += strlen(names[i]) + 1;
    }
    size_t shoff = (stroff + pos + 7) & ~(size_t)7;
    Elf64_Shdr *sh = (Elf64_Shdr *)(m->b + shoff);
    memset(sh, 0, sizeof *sh * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        sh[i].sh_name = at[i];
    sh[n].sh_type = SHT_STRTAB;
    sh[n].sh_offset = stroff;
    sh[n].sh_size = pos;
    m->eh->e_shoff = shoff;
    m->eh->e_shentsize = sizeof *sh;
    m->eh->e_shnum = (Elf64_Half)(n + 1);
    m->eh->e_shstrndx = (Elf64_Half)n;
    m->len = shoff + sizeof *sh * (size_t)(n + 1);
}

Test(execkind, a_go_buildinfo_section_makes_a_program_go_without_the_note)
{
    struct mkelf m;
    mk_init(&m, 1);
    mk_ph(&m, 0)->p_type = PT_LOAD;
    mk_sections(&m, (const char *const[]){".text", ".go.buildinfo", ".data"}, 3);
    cr_assert_eq(mk_kind(&m), PS_EXEC_GO);
    mk_init(&m, 1);
    mk_ph(&m, 0)->p_type = PT_INTERP;
    mk_sections(&m, (const char *const[]){".text", ".note.go.buildid"}, 2);
    cr_assert_eq(mk_kind(&m), PS_EXEC_GO);
    mk_init(&m, 1);
    mk_ph(&m, 0)->p_type = PT_LOAD;
    mk_sections(&m, (const char *const[]){".text", ".go.buildinfox", ".data"}, 3);
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
    /* a name index past the string table, a string table index past the table */
    mk_init(&m, 1);
    mk_ph(&m, 0)->p_type = PT_LOAD;
    mk_sections(&m, (const char *const[]){".go.buildinfo"}, 1);
    ((Elf64_Shdr *)(m.b + m.eh->e_shoff))[0].sh_name = 5000;
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
    m.eh->e_shstrndx = 40;
    cr_assert_eq(mk_kind(&m), PS_EXEC_STATIC);
}

/* ---- PATH search ------------------------------------------------------------ */

Test(execkind, resolve_searches_path_like_execvp)
{
    cr_assert_eq(mkdir(tmp("a"), 0755), 0);
    cr_assert_eq(mkdir(tmp("b"), 0755), 0);
    put(tmp("a/prog"), "x", 1, 0644);          /* not executable: skipped */
    cr_assert_eq(mkdir(tmp("a/dir"), 0755), 0);  /* a directory: skipped */
    put(tmp("b/prog"), "x", 1, 0755);
    put(tmp("b/dir"), "x", 1, 0755);
    char path[2 * PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/a:%s/b", g_dir, g_dir);
    char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", path, 1);
    char buf[PATH_MAX];
    cr_assert(ps_exec_resolve("prog", buf, sizeof buf));
    cr_assert_str_eq(buf, tmp("b/prog"));
    cr_assert(ps_exec_resolve("dir", buf, sizeof buf));
    cr_assert_str_eq(buf, tmp("b/dir"));
    cr_assert_not(ps_exec_resolve("missing", buf, sizeof buf));
    cr_assert_not(ps_exec_resolve("", buf, sizeof buf));
    char small[8];
    cr_assert_not(ps_exec_resolve("prog", small, sizeof small), "buffer too small");
    /* a slash: taken as it is, found or not, as execvp does */
    cr_assert(ps_exec_resolve("./x/y", buf, sizeof buf));
    cr_assert_str_eq(buf, "./x/y");
    /* an empty element is the current directory */
    char cwd[PATH_MAX];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(tmp("b")), 0);
    setenv("PATH", "/nonexistent::/also-not", 1);
    cr_assert(ps_exec_resolve("prog", buf, sizeof buf));
    cr_assert_str_eq(buf, "./prog");
    cr_assert_eq(chdir(cwd), 0);
    /* unset: glibc's default */
    unsetenv("PATH");
    cr_assert(ps_exec_resolve("sh", buf, sizeof buf));
    cr_assert(!strcmp(buf, "/bin/sh") || !strcmp(buf, "/usr/bin/sh"), "%s", buf);
    if (old)
        setenv("PATH", old, 1);
    free(old);
}

Test(execkind, kind_names_are_for_diagnostics)
{
    cr_assert_str_eq(ps_exec_kind_name(PS_EXEC_GO), "Go");
    cr_assert_str_eq(ps_exec_kind_name(PS_EXEC_STATIC), "static");
    cr_assert_str_eq(ps_exec_kind_name(PS_EXEC_DYNAMIC), "dynamic");
    cr_assert_str_eq(ps_exec_kind_name(PS_EXEC_UNKNOWN), "unknown");
}
