/* execkind.c — a program's kind from its first bytes: ELF program headers
 * and notes, a script's #! line, and, rarely, the ELF section names. */
#include "core/execkind.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 4096
/* The kernel reads at most this much of a #! line (BINPRM_BUF_SIZE). */
#define SHEBANG_MAX 256

#ifndef NT_GO_BUILDID
#define NT_GO_BUILDID 4   /* cmd/link: the "Go" note holding the build id */
#endif

/* The ELF facts the decision needs, in one shape for both classes. */
struct elf_facts {
    bool interp;          /* a PT_INTERP: loaded by ld.so, so by the library too */
    bool go_note;
    bool gnu_build_id;
    uint64_t shoff;
    unsigned shnum, shentsize, shstrndx;
};

/* A bounded pread: all n bytes at off or false. */
static bool read_at(int fd, void *buf, size_t n, uint64_t off)
{
    if (off > (uint64_t)INT64_MAX - n)
        return false;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Walks the notes in buf[0..len) (each note's name and descriptor padded to
 * align), noting a Go build id and a GNU build id; a malformed size stops
 * the walk. */
static void scan_notes(const unsigned char *buf, size_t len, size_t align, struct elf_facts *f)
{
    size_t pos = 0;
    while (len - pos >= 12) {
        uint32_t namesz = rd32(buf + pos), descsz = rd32(buf + pos + 4),
                 type = rd32(buf + pos + 8);
        size_t name = pos + 12;
        if (namesz > len - name)
            return;
        size_t desc = name + ((namesz + align - 1) & ~(align - 1));
        if (desc > len || descsz > len - desc)
            return;
        /* Go's linker writes the name "Go\0\0" with namesz 4 */
        if ((namesz == 3 || (namesz == 4 && !buf[name + 3])) && !memcmp(buf + name, "Go", 3) &&
            type == NT_GO_BUILDID)
            f->go_note = true;
        if (namesz == 4 && !memcmp(buf + name, "GNU", 4) && type == NT_GNU_BUILD_ID)
            f->gnu_build_id = true;
        size_t next = desc + ((descsz + align - 1) & ~(align - 1));
        if (next <= pos || next > len)
            return;
        pos = next;
    }
}

/* A PT_NOTE segment: inside the first chunk already read, or one more
 * pread of at most a chunk. */
static void read_notes(int fd, const unsigned char *head, size_t headlen, uint64_t off,
                       uint64_t size, uint64_t align, struct elf_facts *f)
{
    size_t a = align == 8 ? 8 : 4;
    if (size > CHUNK)
        size = CHUNK;
    if (off <= headlen && size <= headlen - off) {
        scan_notes(head + off, (size_t)size, a, f);
        return;
    }
    unsigned char buf[CHUNK];
    if (read_at(fd, buf, (size_t)size, off))
        scan_notes(buf, (size_t)size, a, f);
}

/* Program headers (and their notes) of an ELF of either class, all from
 * head when they fit in it (they do in every linker's output). */
static bool read_elf(int fd, const unsigned char *head, size_t len, struct elf_facts *f)
{
    bool is64 = head[EI_CLASS] == ELFCLASS64;
    uint64_t phoff;
    unsigned phnum, phentsize;
    if (is64) {
        if (len < sizeof(Elf64_Ehdr))
            return false;
        Elf64_Ehdr e;
        memcpy(&e, head, sizeof e);
        phoff = e.e_phoff, phnum = e.e_phnum, phentsize = e.e_phentsize;
        f->shoff = e.e_shoff, f->shnum = e.e_shnum, f->shentsize = e.e_shentsize;
        f->shstrndx = e.e_shstrndx;
        if (phnum && phentsize != sizeof(Elf64_Phdr))
            return false;
    } else {
        if (len < sizeof(Elf32_Ehdr))
            return false;
        Elf32_Ehdr e;
        memcpy(&e, head, sizeof e);
        phoff = e.e_phoff, phnum = e.e_phnum, phentsize = e.e_phentsize;
        f->shoff = e.e_shoff, f->shnum = e.e_shnum, f->shentsize = e.e_shentsize;
        f->shstrndx = e.e_shstrndx;
        if (phnum && phentsize != sizeof(Elf32_Phdr))
            return false;
    }
    if (phnum == 0)
        return false;   /* nothing the kernel would run */
    uint64_t tablen = (uint64_t)phnum * phentsize;
    unsigned char own[CHUNK];
    const unsigned char *ph = head;
    if (phoff > len || tablen > len - phoff) {
        /* headers placed away from the start: one more read, bounded */
        if (tablen > CHUNK || !read_at(fd, own, (size_t)tablen, phoff))
            return false;
        ph = own;
        phoff = 0;
    }
    for (unsigned i = 0; i < phnum; i++) {
        const unsigned char *p = ph + phoff + (uint64_t)i * phentsize;
        uint64_t type, off, size, align;
        if (is64) {
            Elf64_Phdr h;
            memcpy(&h, p, sizeof h);
            type = h.p_type, off = h.p_offset, size = h.p_filesz, align = h.p_align;
        } else {
            Elf32_Phdr h;
            memcpy(&h, p, sizeof h);
            type = h.p_type, off = h.p_offset, size = h.p_filesz, align = h.p_align;
        }
        if (type == PT_INTERP)
            f->interp = true;
        else if (type == PT_NOTE && !f->go_note)
            read_notes(fd, head, len, off, size, align, f);
    }
    return true;
}

/* A Go binary whose note was stripped still has Go's sections: two reads,
 * the section headers and their names, each at most a chunk. */
static bool go_sections(int fd, bool is64, const struct elf_facts *f)
{
    size_t entsz = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    if (!f->shoff || !f->shnum || f->shentsize != entsz || f->shstrndx >= f->shnum)
        return false;
    unsigned char sh[CHUNK];
    size_t n = f->shnum;
    if (n * entsz > sizeof sh)
        n = sizeof sh / entsz;
    if (f->shstrndx >= n || !read_at(fd, sh, n * entsz, f->shoff))
        return false;
    uint64_t stroff, strsz;
    if (is64) {
        Elf64_Shdr s;
        memcpy(&s, sh + f->shstrndx * entsz, sizeof s);
        stroff = s.sh_offset, strsz = s.sh_size;
    } else {
        Elf32_Shdr s;
        memcpy(&s, sh + f->shstrndx * entsz, sizeof s);
        stroff = s.sh_offset, strsz = s.sh_size;
    }
    char names[CHUNK];
    if (strsz > sizeof names - 1)
        strsz = sizeof names - 1;
    if (!strsz || !read_at(fd, names, (size_t)strsz, stroff))
        return false;
    names[strsz] = '\0';
    for (size_t i = 0; i < n; i++) {
        uint32_t name;
        if (is64) {
            Elf64_Shdr s;
            memcpy(&s, sh + i * entsz, sizeof s);
            name = s.sh_name;
        } else {
            Elf32_Shdr s;
            memcpy(&s, sh + i * entsz, sizeof s);
            name = s.sh_name;
        }
        if (name >= strsz)
            continue;
        if (!strcmp(names + name, ".go.buildinfo") || !strcmp(names + name, ".note.go.buildid"))
            return true;
    }
    return false;
}

static enum ps_exec_kind elf_kind(int fd, const unsigned char *head, size_t len)
{
    if (head[EI_CLASS] != ELFCLASS64 && head[EI_CLASS] != ELFCLASS32)
        return PS_EXEC_UNKNOWN;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (head[EI_DATA] != ELFDATA2LSB)
#else
    if (head[EI_DATA] != ELFDATA2MSB)
#endif
        return PS_EXEC_UNKNOWN;
    struct elf_facts f = {0};
    if (!read_elf(fd, head, len, &f))
        return PS_EXEC_UNKNOWN;
    if (f.go_note)
        return PS_EXEC_GO;
    /* Every distribution's build has a GNU build id and no Go program
     * linked by Go alone has one: only the rest pays for the sections. */
    if ((!f.interp || !f.gnu_build_id) && go_sections(fd, head[EI_CLASS] == ELFCLASS64, &f))
        return PS_EXEC_GO;
    return f.interp ? PS_EXEC_DYNAMIC : PS_EXEC_STATIC;
}

static enum ps_exec_kind kind_at(const char *path, int depth);

/* "#! /path/to/interp args": the interpreter's kind, one level deep. */
static enum ps_exec_kind script_kind(const unsigned char *head, size_t len, int depth)
{
    if (depth > 0)
        return PS_EXEC_UNKNOWN;
    char interp[SHEBANG_MAX];
    size_t i = 2, n = 0;
    bool cut = len >= SHEBANG_MAX;   /* the kernel sees no more either */
    if (cut)
        len = SHEBANG_MAX;
    while (i < len && (head[i] == ' ' || head[i] == '\t'))
        i++;
    while (i < len && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && head[i] != '\0')
        interp[n++] = (char)head[i++];
    if (n == 0 || (i == len && cut))   /* none, or a path the kernel would cut */
        return PS_EXEC_UNKNOWN;
    interp[n] = '\0';
    return kind_at(interp, depth + 1);
}

static enum ps_exec_kind kind_at(const char *path, int depth)
{
    struct stat st;
    /* Only a regular file can be executed; opening anything else could
     * block (a FIFO) or act (a tape device rewinds). */
    if (!path || stat(path, &st) || !S_ISREG(st.st_mode))
        return PS_EXEC_UNKNOWN;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return PS_EXEC_UNKNOWN;
    enum ps_exec_kind k = PS_EXEC_UNKNOWN;
    unsigned char head[CHUNK];
    ssize_t r;
    do
        r = pread(fd, head, sizeof head, 0);
    while (r < 0 && errno == EINTR);
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && r >= 4) {
        if (!memcmp(head, ELFMAG, SELFMAG) && (size_t)r >= EI_NIDENT)
            k = elf_kind(fd, head, (size_t)r);
        else if (head[0] == '#' && head[1] == '!')
            k = script_kind(head, (size_t)r, depth);
    }
    close(fd);
    return k;
}

enum ps_exec_kind ps_exec_kind_of(const char *path)
{
    return kind_at(path, 0);
}

bool ps_exec_needs_supervisor(enum ps_exec_kind k)
{
    return k == PS_EXEC_STATIC || k == PS_EXEC_GO;
}

const char *ps_exec_kind_name(enum ps_exec_kind k)
{
    switch (k) {
    case PS_EXEC_DYNAMIC: return "dynamic";
    case PS_EXEC_STATIC: return "static";
    case PS_EXEC_GO: return "Go";
    default: return "unknown";
    }
}

/* dir "/" file into buf when it fits and names an executable regular file. */
static bool try_dir(const char *dir, size_t dlen, const char *file, char *buf, size_t n)
{
    size_t flen = strlen(file);
    if (dlen == 0)
        dir = ".", dlen = 1;
    if (dlen + 1 + flen + 1 > n)
        return false;
    memcpy(buf, dir, dlen);
    buf[dlen] = '/';
    memcpy(buf + dlen + 1, file, flen + 1);
    struct stat st;
    return stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0;
}

bool ps_exec_resolve(const char *file, char *buf, size_t n)
{
    if (!file || !*file || n == 0)
        return false;
    if (strchr(file, '/')) {
        size_t l = strlen(file);
        if (l + 1 > n)
            return false;
        memcpy(buf, file, l + 1);
        return true;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    for (const char *p = path;; ) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        if (try_dir(p, dlen, file, buf, n))
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    buf[0] = '\0';
    return false;
}
