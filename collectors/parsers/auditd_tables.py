"""Linux audit lookup tables: record type and syscall numbers to names, record types to ECS kinds.

The kernel's printk form (``audit: type=1400 audit(...)``) names a record by number, and a RAW
audit log names syscalls by number (``arch=c000003e syscall=59``); Sigma rules use names
(``type: AVC``, ``SYSCALL: execve``), as ENRICHED logs and ``ausearch -i`` print them. These tables
were dumped from libaudit 3.0.9 (``audit_msg_type_to_name`` and ``ausyscall ARCH --dump``):
numbers in order, ``-`` for an unused number.
"""

from __future__ import annotations

_RECORD_TYPES = (
    "1005:USER 1006:LOGIN 1100:USER_AUTH 1101:USER_ACCT 1102:USER_MGMT 1103:CRED_ACQ 1104:CRED_DISP 1105:USER_START "
    "1106:USER_END 1107:USER_AVC 1108:USER_CHAUTHTOK 1109:USER_ERR 1110:CRED_REFR 1111:USYS_CONFIG 1112:USER_LOGIN "
    "1113:USER_LOGOUT 1114:ADD_USER 1115:DEL_USER 1116:ADD_GROUP 1117:DEL_GROUP 1118:DAC_CHECK 1119:CHGRP_ID "
    "1120:TEST 1121:TRUSTED_APP 1122:USER_SELINUX_ERR 1123:USER_CMD 1124:USER_TTY 1125:CHUSER_ID 1126:GRP_AUTH "
    "1127:SYSTEM_BOOT 1128:SYSTEM_SHUTDOWN 1129:SYSTEM_RUNLEVEL 1130:SERVICE_START 1131:SERVICE_STOP 1132:GRP_MGMT "
    "1133:GRP_CHAUTHTOK 1134:MAC_CHECK 1135:ACCT_LOCK 1136:ACCT_UNLOCK 1137:USER_DEVICE 1138:SOFTWARE_UPDATE "
    "1200:DAEMON_START 1201:DAEMON_END 1202:DAEMON_ABORT 1203:DAEMON_CONFIG 1205:DAEMON_ROTATE 1206:DAEMON_RESUME "
    "1207:DAEMON_ACCEPT 1208:DAEMON_CLOSE 1209:DAEMON_ERR 1300:SYSCALL 1302:PATH 1303:IPC 1304:SOCKETCALL "
    "1305:CONFIG_CHANGE 1306:SOCKADDR 1307:CWD 1309:EXECVE 1311:IPC_SET_PERM 1312:MQ_OPEN 1313:MQ_SENDRECV "
    "1314:MQ_NOTIFY 1315:MQ_GETSETATTR 1316:KERNEL_OTHER 1317:FD_PAIR 1318:OBJ_PID 1319:TTY 1320:EOE 1321:BPRM_FCAPS "
    "1322:CAPSET 1323:MMAP 1324:NETFILTER_PKT 1325:NETFILTER_CFG 1326:SECCOMP 1327:PROCTITLE 1328:FEATURE_CHANGE "
    "1330:KERN_MODULE 1331:FANOTIFY 1332:TIME_INJOFFSET 1333:TIME_ADJNTPVAL 1334:BPF 1335:EVENT_LISTENER 1336:URINGOP "
    "1337:OPENAT2 1400:AVC 1401:SELINUX_ERR 1402:AVC_PATH 1403:MAC_POLICY_LOAD 1404:MAC_STATUS 1405:MAC_CONFIG_CHANGE "
    "1406:MAC_UNLBL_ALLOW 1407:MAC_CIPSOV4_ADD 1408:MAC_CIPSOV4_DEL 1409:MAC_MAP_ADD 1410:MAC_MAP_DEL "
    "1411:MAC_IPSEC_ADDSA 1412:MAC_IPSEC_DELSA 1413:MAC_IPSEC_ADDSPD 1414:MAC_IPSEC_DELSPD 1415:MAC_IPSEC_EVENT "
    "1416:MAC_UNLBL_STCADD 1417:MAC_UNLBL_STCDEL 1418:MAC_CALIPSO_ADD 1419:MAC_CALIPSO_DEL 1500:APPARMOR "
    "1501:APPARMOR_AUDIT 1502:APPARMOR_ALLOWED 1503:APPARMOR_DENIED 1504:APPARMOR_HINT 1505:APPARMOR_STATUS "
    "1506:APPARMOR_ERROR 1507:APPARMOR_KILL 1700:ANOM_PROMISCUOUS 1701:ANOM_ABEND 1702:ANOM_LINK 1703:ANOM_CREAT "
    "1800:INTEGRITY_DATA 1801:INTEGRITY_METADATA 1802:INTEGRITY_STATUS 1803:INTEGRITY_HASH 1804:INTEGRITY_PCR "
    "1805:INTEGRITY_RULE 1806:INTEGRITY_EVM_XATTR 1807:INTEGRITY_POLICY_RULE 2000:KERNEL 2100:ANOM_LOGIN_FAILURES "
    "2101:ANOM_LOGIN_TIME 2102:ANOM_LOGIN_SESSIONS 2103:ANOM_LOGIN_ACCT 2104:ANOM_LOGIN_LOCATION 2105:ANOM_MAX_DAC "
    "2106:ANOM_MAX_MAC 2107:ANOM_AMTU_FAIL 2108:ANOM_RBAC_FAIL 2109:ANOM_RBAC_INTEGRITY_FAIL 2110:ANOM_CRYPTO_FAIL "
    "2111:ANOM_ACCESS_FS 2112:ANOM_EXEC 2113:ANOM_MK_EXEC 2114:ANOM_ADD_ACCT 2115:ANOM_DEL_ACCT 2116:ANOM_MOD_ACCT "
    "2117:ANOM_ROOT_TRANS 2118:ANOM_LOGIN_SERVICE 2119:ANOM_LOGIN_ROOT 2120:ANOM_ORIGIN_FAILURES 2121:ANOM_SESSION "
    "2200:RESP_ANOMALY 2201:RESP_ALERT 2202:RESP_KILL_PROC 2203:RESP_TERM_ACCESS 2204:RESP_ACCT_REMOTE "
    "2205:RESP_ACCT_LOCK_TIMED 2206:RESP_ACCT_UNLOCK_TIMED 2207:RESP_ACCT_LOCK 2208:RESP_TERM_LOCK 2209:RESP_SEBOOL "
    "2210:RESP_EXEC 2211:RESP_SINGLE 2212:RESP_HALT 2213:RESP_ORIGIN_BLOCK 2214:RESP_ORIGIN_BLOCK_TIMED "
    "2215:RESP_ORIGIN_UNBLOCK_TIMED 2300:USER_ROLE_CHANGE 2301:ROLE_ASSIGN 2302:ROLE_REMOVE 2303:LABEL_OVERRIDE "
    "2304:LABEL_LEVEL_CHANGE 2305:USER_LABELED_EXPORT 2306:USER_UNLABELED_EXPORT 2307:DEV_ALLOC 2308:DEV_DEALLOC "
    "2309:FS_RELABEL 2310:USER_MAC_POLICY_LOAD 2311:ROLE_MODIFY 2312:USER_MAC_CONFIG_CHANGE 2313:USER_MAC_STATUS "
    "2400:CRYPTO_TEST_USER 2401:CRYPTO_PARAM_CHANGE_USER 2402:CRYPTO_LOGIN 2403:CRYPTO_LOGOUT 2404:CRYPTO_KEY_USER "
    "2405:CRYPTO_FAILURE_USER 2406:CRYPTO_REPLAY_USER 2407:CRYPTO_SESSION 2408:CRYPTO_IKE_SA 2409:CRYPTO_IPSEC_SA "
    "2500:VIRT_CONTROL 2501:VIRT_RESOURCE 2502:VIRT_MACHINE_ID 2503:VIRT_INTEGRITY_CHECK 2504:VIRT_CREATE "
    "2505:VIRT_DESTROY 2506:VIRT_MIGRATE_IN 2507:VIRT_MIGRATE_OUT "
)

_X86_64 = (
    "read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask "
    "rt_sigreturn ioctl pread pwrite readv writev access pipe select sched_yield mremap msync mincore madvise shmget "
    "shmat shmctl dup dup2 pause nanosleep getitimer alarm setitimer getpid sendfile socket connect accept sendto "
    "recvfrom sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt clone "
    "fork vfork execve exit wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync "
    "fdatasync truncate ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink symlink readlink "
    "chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage sysinfo times ptrace getuid syslog "
    "getgid setuid setgid geteuid getegid setpgid getppid getpgrp setsid setreuid setregid getgroups setgroups "
    "setresuid getresuid setresgid getresgid getpgid setfsuid setfsgid getsid capget capset rt_sigpending "
    "rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack utime mknod uselib personality ustat statfs fstatfs "
    "sysfs getpriority setpriority sched_setparam sched_getparam sched_setscheduler sched_getscheduler "
    "sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock munlock mlockall munlockall vhangup "
    "modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot sync acct settimeofday mount umount2 "
    "swapon swapoff reboot sethostname setdomainname iopl ioperm create_module init_module delete_module "
    "get_kernel_syms query_module quotactl nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid readahead "
    "setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr "
    "lremovexattr fremovexattr tkill time futex sched_setaffinity sched_getaffinity set_thread_area io_setup "
    "io_destroy io_getevents io_submit io_cancel get_thread_area lookup_dcookie epoll_create epoll_ctl_old "
    "epoll_wait_old remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 timer_create "
    "timer_settime timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime clock_getres "
    "clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes vserver mbind set_mempolicy get_mempolicy mq_open "
    "mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr kexec_load waitid add_key request_key keyctl "
    "ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat "
    "fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll "
    "unshare set_robust_list get_robust_list splice tee sync_file_range vmsplice move_pages utimensat epoll_pwait "
    "signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2 "
    "epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open recvmmsg fanotify_init "
    "fanotify_mark prlimit64 name_to_handle_at open_by_handle_at clock_adjtime syncfs sendmmsg setns getcpu "
    "process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr renameat2 seccomp getrandom "
    "memfd_create kexec_file_load bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 "
    "pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq - - - - - - - - - - - - - - - - - - - - - - - - - - "
    "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
    "- - - - - - - pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount fsopen "
    "fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2 process_madvise "
    "epoll_pwait2 mount_setattr quotactl_fd landlock_create_ruleset landlock_add_rule landlock_restrict_self "
    "memfd_secret process_mrelease futex_waitv set_mempolicy_home_node "
)

_I386 = (
    "restart_syscall exit fork read write open close waitpid creat link unlink execve chdir time mknod chmod lchown "
    "break oldstat lseek getpid mount umount setuid getuid stime ptrace alarm oldfstat pause utime stty gtty access "
    "nice ftime sync kill rename mkdir rmdir dup pipe times prof brk setgid getgid signal geteuid getegid acct "
    "umount2 lock ioctl fcntl mpx setpgid ulimit oldolduname umask chroot ustat dup2 getppid getpgrp setsid sigaction "
    "sgetmask ssetmask setreuid setregid sigsuspend sigpending sethostname setrlimit getrlimit getrusage gettimeofday "
    "settimeofday getgroups setgroups select symlink oldlstat readlink uselib swapon reboot readdir mmap munmap "
    "truncate ftruncate fchmod fchown getpriority setpriority profil statfs fstatfs ioperm socketcall syslog "
    "setitimer getitimer stat lstat fstat olduname iopl vhangup idle vm86old wait4 swapoff sysinfo ipc fsync "
    "sigreturn clone setdomainname uname modify_ldt adjtimex mprotect sigprocmask create_module init_module "
    "delete_module get_kernel_syms quotactl getpgid fchdir bdflush sysfs personality afs_syscall setfsuid setfsgid "
    "_llseek getdents _newselect flock msync readv writev getsid fdatasync _sysctl mlock munlock mlockall munlockall "
    "sched_setparam sched_getparam sched_setscheduler sched_getscheduler sched_yield sched_get_priority_max "
    "sched_get_priority_min sched_rr_get_interval nanosleep mremap setresuid getresuid vm86 query_module poll "
    "nfsservctl setresgid getresgid prctl rt_sigreturn rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait "
    "rt_sigqueueinfo rt_sigsuspend pread64 pwrite64 chown getcwd capget capset sigaltstack sendfile getpmsg putpmsg "
    "vfork ugetrlimit mmap2 truncate64 ftruncate64 stat64 lstat64 fstat64 lchown32 getuid32 getgid32 geteuid32 "
    "getegid32 setreuid32 setregid32 getgroups32 setgroups32 fchown32 setresuid32 getresuid32 setresgid32 getresgid32 "
    "chown32 setuid32 setgid32 setfsuid32 setfsgid32 pivot_root mincore madvise getdents64 fcntl64 - - gettid "
    "readahead setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr "
    "lremovexattr fremovexattr tkill sendfile64 futex sched_setaffinity sched_getaffinity set_thread_area "
    "get_thread_area io_setup io_destroy io_getevents io_submit io_cancel fadvise64 - exit_group lookup_dcookie "
    "epoll_create epoll_ctl epoll_wait remap_file_pages set_tid_address timer_create timer_settime timer_gettime "
    "timer_getoverrun timer_delete clock_settime clock_gettime clock_getres clock_nanosleep statfs64 fstatfs64 tgkill "
    "utimes fadvise64_64 vserver mbind get_mempolicy set_mempolicy mq_open mq_unlink mq_timedsend mq_timedreceive "
    "mq_notify mq_getsetattr sys_kexec_load waitid - add_key request_key keyctl ioprio_set ioprio_get inotify_init "
    "inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat fchownat futimesat fstatat64 unlinkat "
    "renameat linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list "
    "splice sync_file_range tee vmsplice move_pages getcpu epoll_pwait utimensat signalfd timerfd_create eventfd "
    "fallocate timerfd_settime timerfd_gettime signalfd4 eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv "
    "pwritev rt_tgsigqueueinfo perf_event_open recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at "
    "open_by_handle_at clock_adjtime syncfs sendmmsg setns process_vm_readv process_vm_writev kcmp finit_module "
    "sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create bpf execveat socket socketpair bind connect "
    "listen accept4 getsockopt setsockopt getsockname getpeername sendto sendmsg recvfrom recvmsg shutdown "
    "userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free statx "
    "arch_prctl io_pgetevents rseq - - - - - - semget semctl shmget shmctl shmat shmdt msgget msgsnd msgrcv msgctl "
    "clock_gettime64 clock_settime64 clock_adjtime64 clock_getres_time64 clock_nanosleep_time64 timer_gettime64 "
    "timer_settime64 timerfd_gettime64 timerfd_settime64 utimensat_time64 pselect6_time64 ppoll_time64 - "
    "io_pgetevents_time64 recvmmsg_time64 mq_timedsend_time64 mq_timedreceive_time64 semtimedop_time64 "
    "rt_sigtimedwait_time64 futex_time64 sched_rr_get_interval64 pidfd_send_signal io_uring_setup io_uring_enter "
    "io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 "
    "pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd landlock_create_ruleset "
    "landlock_add_rule landlock_restrict_self memfd_secret process_mrelease futex_waitv set_mempolicy_home_node "
)

_AARCH64 = (
    "io_setup io_destroy io_submit io_cancel io_getevents setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr "
    "listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr getcwd lookup_dcookie eventfd2 "
    "epoll_create1 epoll_ctl epoll_pwait dup dup3 fcntl inotify_init1 inotify_add_watch inotify_rm_watch ioctl "
    "ioprio_set ioprio_get flock mknodat mkdirat unlinkat symlinkat linkat renameat umount2 mount pivot_root "
    "nfsservctl statfs fstatfs truncate ftruncate fallocate faccessat chdir fchdir chroot fchmod fchmodat fchownat "
    "fchown openat close vhangup pipe2 quotactl getdents lseek read write readv writev pread pwrite preadv pwritev "
    "sendfile pselect6 ppoll signalfd4 vmsplice splice tee readlinkat newfstatat newfstat sync fsync fdatasync "
    "sync_file_range timerfd_create timerfd_settime timerfd_gettime utimensat acct capget capset personality exit "
    "exit_group waitid set_tid_address unshare futex set_robust_list get_robust_list nanosleep getitimer setitimer "
    "kexec_load init_module delete_module timer_create timer_gettime timer_getoverrun timer_settime timer_delete "
    "clock_settime clock_gettime clock_getres clock_nanosleep syslog ptrace sched_setparam sched_setscheduler "
    "sched_getscheduler sched_getparam sched_setaffinity sched_getaffinity sched_yield sched_get_priority_max "
    "sched_get_priority_min sched_rr_get_interval restart_syscall kill tkill tgkill sigaltstack rt_sigsuspend "
    "rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigreturn setpriority getpriority "
    "reboot setregid setgid setreuid setuid setresuid getresuid setresgid getresgid setfsuid setfsgid times setpgid "
    "getpgid getsid setsid getgroups setgroups uname sethostname setdomainname getrlimit setrlimit getrusage umask "
    "prctl getcpu gettimeofday settimeofday adjtimex getpid getppid getuid geteuid getgid getegid gettid sysinfo "
    "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr msgget msgctl msgrcv msgsnd semget semctl "
    "semtimedop semop shmget shmctl shmat shmdt socket socketpair bind listen accept connect getsockname getpeername "
    "sendto recvfrom setsockopt getsockopt shutdown sendmsg recvmsg readahead brk munmap mremap add_key request_key "
    "keyctl clone execve mmap fadvise64 swapon swapoff mprotect msync mlock munlock mlockall munlockall mincore "
    "madvise remap_file_pages mbind get_mempolicy set_mempolicy migrate_pages move_pages rt_tgsigqueueinfo "
    "perf_event_open accept4 recvmmsg - - - - - - - - - - - - - - - - wait4 prlimit64 fanotify_init fanotify_mark "
    "name_to_handle_at open_by_handle_at clock_adjtime syncfs setns sendmmsg process_vm_readv process_vm_writev kcmp "
    "finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create bpf execveat userfaultfd "
    "membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq "
    "kexec_file_load - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
    "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
    "- - - - - - - - - - - - - - - - - - - - - - - - - pidfd_send_signal io_uring_setup io_uring_enter "
    "io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 "
    "pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd landlock_create_ruleset "
    "landlock_add_rule landlock_restrict_self memfd_secret process_mrelease futex_waitv set_mempolicy_home_node "
)

# ECS event.category and event.type of a record type (AVC and other MAC records are judged apart).
Kind = tuple[tuple[str, ...], tuple[str, ...]]
_IAM_USER: Kind = (("iam",), ("user", "change"))
_AUTH_INFO: Kind = (("authentication",), ("info",))
EVENT_KINDS: dict[str, Kind] = {
    "EXECVE": (("process",), ("start",)),
    "USER_CMD": (("process",), ("start",)),
    "SYSCALL": (("process",), ("info",)),
    "PROCTITLE": (("process",), ("info",)),
    "CWD": (("process",), ("info",)),
    "TTY": (("process",), ("info",)),
    "USER_TTY": (("process",), ("info",)),
    "PATH": (("file",), ("info",)),
    "SOCKADDR": (("network",), ("info",)),
    "USER_AUTH": _AUTH_INFO,
    "USER_ACCT": _AUTH_INFO,
    "CRED_ACQ": _AUTH_INFO,
    "CRED_DISP": _AUTH_INFO,
    "CRED_REFR": _AUTH_INFO,
    "USER_LOGIN": (("authentication", "session"), ("start",)),
    "USER_LOGOUT": (("session",), ("end",)),
    "USER_START": (("session",), ("start",)),
    "USER_END": (("session",), ("end",)),
    "ADD_USER": (("iam",), ("user", "creation")),
    "DEL_USER": (("iam",), ("user", "deletion")),
    "ADD_GROUP": (("iam",), ("group", "creation")),
    "DEL_GROUP": (("iam",), ("group", "deletion")),
    "GRP_MGMT": (("iam",), ("group", "change")),
    "USER_MGMT": _IAM_USER,
    "USER_CHAUTHTOK": _IAM_USER,
    "ACCT_LOCK": _IAM_USER,
    "ACCT_UNLOCK": _IAM_USER,
    "SERVICE_START": (("process",), ("start",)),
    "SERVICE_STOP": (("process",), ("end",)),
    "DAEMON_START": (("process",), ("start",)),
    "DAEMON_END": (("process",), ("end",)),
    "DAEMON_ABORT": (("process",), ("end",)),
    "SYSTEM_BOOT": (("host",), ("start",)),
    "SYSTEM_SHUTDOWN": (("host",), ("end",)),
    "SYSTEM_RUNLEVEL": (("host",), ("change",)),
    "CONFIG_CHANGE": (("configuration",), ("change",)),
    "DAEMON_CONFIG": (("configuration",), ("change",)),
    "USYS_CONFIG": (("configuration",), ("change",)),
    "KERN_MODULE": (("driver",), ("info",)),
}
# The audit ``arch=`` value (AUDIT_ARCH_*) -> (ENRICHED name, syscall names by number).
_ARCHES: dict[str, tuple[str, str]] = {
    "c000003e": ("x86_64", _X86_64),
    "40000003": ("i386", _I386),
    "c00000b7": ("aarch64", _AARCH64),
}
RECORD_TYPES: dict[str, str] = dict(pair.split(":", 1) for pair in _RECORD_TYPES.split())  # "1400" -> "AVC"
_SYSCALLS: dict[str, tuple[str, tuple[str, ...]]] = {
    code: (name, tuple(table.split())) for code, (name, table) in _ARCHES.items()
}


def arch_name(arch: str) -> str | None:
    """``x86_64`` for ``c000003e``; None for an architecture not in the tables."""
    found = _SYSCALLS.get(arch.lower())
    return found[0] if found is not None else None


def syscall_name(arch: str, number: str) -> str | None:
    """The syscall's name for its number on ``arch`` (hex AUDIT_ARCH value), or None when unknown."""
    found = _SYSCALLS.get(arch.lower())
    if found is None or not number.isdecimal():
        return None
    names = found[1]
    n = int(number)
    if n >= len(names) or names[n] == "-":
        return None
    return names[n]
