# bash completion for xe-netd (installed by `make install-cli` into /etc/bash_completion.d, or
# source it from ~/.bashrc). Candidates come from `xe-netd --complete WORD... CUR`: commands,
# parameters, uuids of the right class, field names, modes.
_xe_netd() {
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    read -r -a words <<< "$line"
    [[ $line == *' ' ]] && words+=('')
    local cur=${words[${#words[@]}-1]}
    local -a args=("${words[@]:1}")
    # Connection options stay with the command line; they are not completion words.
    local -a conn=() rest=()
    local i
    for ((i = 0; i < ${#args[@]} - 1; i++)); do
        case ${args[i]} in
            -s|-p|-u|-pw|-pwf) conn+=("${args[i]}" "${args[i+1]}"); i=$((i + 1)) ;;
            --nossl) conn+=("${args[i]}") ;;
            *) rest+=("${args[i]}") ;;
        esac
    done
    rest+=("$cur")
    local IFS=$'\n'
    local -a cands=($("${words[0]}" "${conn[@]}" --complete "${rest[@]}" 2>/dev/null))
    # bash splits words at '=' and ':' (COMP_WORDBREAKS): offer only what follows the last one.
    local pre='' b=''
    [[ $COMP_WORDBREAKS == *=* ]] && b+='='
    [[ $COMP_WORDBREAKS == *:* ]] && b+=':'
    [[ -n $b ]] && pre=${cur%"${cur##*[$b]}"}
    COMPREPLY=("${cands[@]#"$pre"}")
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then compopt -o nospace 2>/dev/null; fi
}
complete -F _xe_netd xe-netd
