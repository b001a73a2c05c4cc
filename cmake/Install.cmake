# Install layout, man pages and the Debian package (issue 16).
#
#   bin/                     mailtls-scan and every tools/<name> program except
#                            the test tools below (-DMAILTLS_INSTALL_TEST_TOOLS=ON
#                            installs those too)
#   share/man/man1/          one page per installed program, generated at build
#                            time from its own --help (tools/mkman.py), so a page
#                            cannot drift from the program; tools/man/<name>.txt
#                            adds FILES, ETHICS, SEE ALSO where needed
#   share/mailtls/           record schema (SCHEMA-OUTPUT.md, schema.txt from
#                            --schema), SQL files, examples/
#   share/doc/mailtls/       README.md, LICENSE
include(GNUInstallDirs)

option(MAILTLS_INSTALL_TEST_TOOLS "Also install the test and benchmark programs (farm, outcheck, ...)" OFF)
# Programs for tests and benchmarks only: simulated servers, load generators.
set(MAILTLS_TEST_TOOLS farm outcheck permbench dnsbench bench benchlib)

set(MAILTLS_PROGRAMS mailtls-scan)
file(GLOB _mt_tool_dirs LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/tools/*)
foreach(dir ${_mt_tool_dirs})
  get_filename_component(tool ${dir} NAME)
  if(TARGET mailtls-${tool})
    list(FIND MAILTLS_TEST_TOOLS ${tool} _is_test)
    if(_is_test EQUAL -1 OR MAILTLS_INSTALL_TEST_TOOLS)
      list(APPEND MAILTLS_PROGRAMS mailtls-${tool})
    endif()
  endif()
endforeach()
install(TARGETS ${MAILTLS_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man pages: python3 runs each program's --help (and mailtls-scan --schema).
find_program(MAILTLS_PYTHON3 python3)
if(MAILTLS_PYTHON3)
  string(REPLACE ";" "," _mt_see_also "${MAILTLS_PROGRAMS}")
  set(_mt_pages)
  foreach(prog ${MAILTLS_PROGRAMS})
    string(REPLACE "mailtls-" "" short ${prog})
    set(args --version ${PROJECT_VERSION} --see-also ${_mt_see_also})
    set(deps ${prog} ${CMAKE_CURRENT_SOURCE_DIR}/tools/mkman.py)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tools/man/${short}.txt)
      list(APPEND args --extra ${CMAKE_CURRENT_SOURCE_DIR}/tools/man/${short}.txt)
      list(APPEND deps ${CMAKE_CURRENT_SOURCE_DIR}/tools/man/${short}.txt)
    endif()
    if(prog STREQUAL "mailtls-scan")
      list(APPEND args --schema)
    endif()
    add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${prog}.1
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${MAILTLS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/tools/mkman.py $<TARGET_FILE:${prog}>
              ${CMAKE_BINARY_DIR}/man/${prog}.1 ${args}
      DEPENDS ${deps} VERBATIM)
    list(APPEND _mt_pages ${CMAKE_BINARY_DIR}/man/${prog}.1)
  endforeach()
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/schema.txt
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND mailtls-scan --schema > ${CMAKE_BINARY_DIR}/man/schema.txt
    DEPENDS mailtls-scan)
  add_custom_target(man ALL DEPENDS ${_mt_pages} ${CMAKE_BINARY_DIR}/man/schema.txt)
  install(FILES ${_mt_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${CMAKE_BINARY_DIR}/man/schema.txt DESTINATION ${CMAKE_INSTALL_DATADIR}/mailtls)
else()
  message(WARNING "python3 not found: no man pages are built or installed")
endif()

file(GLOB _mt_sql CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*/*.sql ${CMAKE_CURRENT_SOURCE_DIR}/*/*/*.sql)
list(FILTER _mt_sql EXCLUDE REGEX "/(build[^/]*|tests|examples)/")
install(FILES output/SCHEMA-OUTPUT.md ${_mt_sql} DESTINATION ${CMAKE_INSTALL_DATADIR}/mailtls)
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/mailtls/examples)
install(FILES README.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})

# cpack -G DEB: Depends is computed by dpkg-shlibdeps (dpkg-dev) from the
# libraries the installed programs link, not written here.
set(CPACK_PACKAGE_NAME mailtls)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mail-server TLS scanner: SMTP, IMAP, POP3 STARTTLS and implicit TLS")
set(CPACK_PACKAGE_DESCRIPTION "mailtls-scan probes many mail servers at once from one epoll loop and
writes one record per (target, port): STARTTLS, AUTH before TLS, TLS version,
cipher and certificate verdicts. mailtls-stats counts the results.")
set(CPACK_PACKAGE_CONTACT "mailtls maintainers <mailtls@example.org>")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/mailtls")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
